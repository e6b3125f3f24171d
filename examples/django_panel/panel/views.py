"""Sign-up and tickets: each Django write and its HubSpot event commit together."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User as Account
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from skypanel_hubspot_plugin.django import hubspot

from .hubspot_hooks import ticket_payload, user_payload
from .models import SupportTicket


class SignUpRefused(Exception):
    """The panel turned the sign-up down after creating the account (the block rolls back)."""


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "panel/home.html")


def signup(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "panel/signup.html")
    email = request.POST.get("email", "").strip().lower()
    first, _, last = request.POST.get("name", "").strip().partition(" ")
    if not email or Account.objects.filter(username=email).exists():
        return render(request, "panel/signup.html", {"error": "Use another email"}, status=422)
    try:
        with transaction.atomic():
            account = Account.objects.create_user(
                username=email, email=email, first_name=first, last_name=last
            )
            hubspot.user_created(user_payload(account))
            if request.POST.get("plan") == "banned":  # a check that comes last, and fails
                raise SignUpRefused
    except SignUpRefused:
        return render(request, "panel/signup.html", {"error": "Sign-up refused"}, status=422)
    login(request, account)
    return redirect("tickets")


@login_required
def tickets(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        with transaction.atomic():
            ticket = SupportTicket.objects.create(
                owner=request.user,
                subject=request.POST.get("subject", "").strip() or "(no subject)",
                body=request.POST.get("body", ""),
            )
            hubspot.ticket_created(ticket_payload(ticket), user_payload(request.user))
        return redirect("ticket", ticket_id=ticket.pk)
    mine = SupportTicket.objects.filter(owner=request.user).order_by("-pk")
    return render(request, "panel/tickets.html", {"tickets": mine})


@login_required
def ticket(request: HttpRequest, ticket_id: int) -> JsonResponse:
    found = get_object_or_404(SupportTicket, pk=ticket_id, owner=request.user)
    return JsonResponse({"id": found.pk, "subject": found.subject, "status": found.status})
