"""The customer-facing pages: the home page with the sign-up form, and "my tickets".

Signing up and opening or closing a ticket are where the panel fires the plugin's event
hooks: inside the panel's own transaction, before its commit, so a sign-up that fails to
commit sends nothing to HubSpot and one that commits always does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.responses import Response

from skypanel_hubspot_plugin.demo import auth
from skypanel_hubspot_plugin.payloads import Visitor

from .csrf import check_csrf
from .forms import CATEGORIES, LABELS, PLANS, PRIORITIES, NewTicket, SignUp
from .host import get_host, render
from .panel_tables import PanelTicket, PanelUser

router = APIRouter()
Field = Annotated[str, Form()]
EMAIL_TAKEN = "An account with this email address already exists"


def current_customer(request: Request, session: Session) -> PanelUser | None:
    customer_id = auth.customer_id(request)
    return session.get(PanelUser, customer_id) if customer_id is not None else None


@router.get("/")
def home(request: Request) -> Response:
    with Session(get_host(request).engine) as session:
        viewer = current_customer(request, session)
        context = {"form": SignUp(), "errors": {}, "plans": PLANS}
        return render(request, "home.html", context, viewer=viewer)


@router.post("/signup")
def sign_up(
    request: Request,
    email: Field = "",
    first_name: Field = "",
    last_name: Field = "",
    company: Field = "",
    phone: Field = "",
    plan: Field = "starter",
    server_count: Field = "1",
    csrf_token: Field = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = SignUp.cleaned(
        email=email,
        first_name=first_name,
        last_name=last_name,
        company=company,
        phone=phone,
        plan=plan,
        server_count=server_count,
    )
    errors = form.errors()
    host = get_host(request)
    with Session(host.engine) as session:
        taken = session.exec(select(PanelUser.id).where(col(PanelUser.email) == form.email))
        if not errors and taken.first() is not None:
            errors["email"] = EMAIL_TAKEN
        if errors:
            context = {"form": form, "errors": errors, "plans": PLANS}
            return render(request, "home.html", context, status_code=422)
        user = PanelUser(**{**vars(form), "server_count": form.servers()})
        session.add(user)
        try:
            session.flush()  # the id the plugin will name the contact's user by
            host.pm.hook.skypanel_on_user_created(user=user.as_user(), session=session)
            host.pm.hook.skypanel_on_form_submitted(
                form="contact",
                fields=_contact_fields(user),
                visitor=_visitor(request, "/", "Create your account"),
                session=session,
            )
            session.commit()
        except IntegrityError:  # the same email signed up a moment ago
            session.rollback()
            context = {"form": form, "errors": {"email": EMAIL_TAKEN}, "plans": PLANS}
            return render(request, "home.html", context, status_code=422)
        assert user.id is not None
        auth.log_in_customer(request, user.id)
    return RedirectResponse("/tickets?welcome=1", status_code=303)


@router.get("/tickets")
def tickets(request: Request) -> Response:
    with Session(get_host(request).engine) as session:
        viewer = current_customer(request, session)
        if viewer is None:
            return RedirectResponse("/", status_code=303)
        return _tickets_page(request, session, viewer, NewTicket(), {})


@router.post("/tickets")
def open_ticket(
    request: Request,
    subject: Field = "",
    content: Field = "",
    priority: Field = "medium",
    category: Field = "general",
    server: Field = "",
    csrf_token: Field = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = NewTicket.cleaned(
        subject=subject, content=content, priority=priority, category=category, server=server
    )
    host = get_host(request)
    with Session(host.engine) as session:
        viewer = current_customer(request, session)
        if viewer is None or viewer.id is None:
            return RedirectResponse("/", status_code=303)
        if errors := form.errors():
            return _tickets_page(request, session, viewer, form, errors, status_code=422)
        ticket = PanelTicket(user_id=viewer.id, **vars(form))
        session.add(ticket)
        session.flush()
        host.pm.hook.skypanel_on_ticket_created(
            ticket=ticket.as_ticket(), user=viewer.as_user(), session=session
        )
        host.pm.hook.skypanel_on_form_submitted(
            form="ticket",
            fields=_contact_fields(viewer),
            visitor=_visitor(request, "/tickets", "Support"),
            session=session,
        )
        session.commit()
    return RedirectResponse("/tickets", status_code=303)


@router.post("/tickets/{ticket_id}/close")
def close_ticket(request: Request, ticket_id: int, csrf_token: Field = "") -> Response:
    check_csrf(request, csrf_token)
    host = get_host(request)
    with Session(host.engine) as session:
        viewer = current_customer(request, session)
        ticket = session.get(PanelTicket, ticket_id)
        if viewer is None or ticket is None or ticket.user_id != viewer.id:
            raise HTTPException(404, "No such ticket")
        if ticket.status != "closed":
            ticket.status = "closed"
            session.add(ticket)
            session.flush()
            host.pm.hook.skypanel_on_ticket_updated(
                ticket=ticket.as_ticket(), changed=frozenset({"status"}), session=session
            )
            session.commit()
    return RedirectResponse("/tickets", status_code=303)


@router.post("/logout")
def log_out(request: Request, csrf_token: Field = "") -> Response:
    check_csrf(request, csrf_token)
    auth.log_out(request)
    return RedirectResponse("/", status_code=303)


def _tickets_page(
    request: Request,
    session: Session,
    viewer: PanelUser,
    form: NewTicket,
    errors: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    rows = session.exec(
        select(PanelTicket)
        .where(col(PanelTicket.user_id) == viewer.id)
        .order_by(col(PanelTicket.id).desc())
    ).all()
    context = {
        "tickets": rows,
        "form": form,
        "errors": errors,
        "priorities": PRIORITIES,
        "categories": CATEGORIES,
        "labels": LABELS,
        "welcome": request.query_params.get("welcome") == "1",
    }
    return render(request, "tickets.html", context, viewer=viewer, status_code=status_code)


def _contact_fields(user: PanelUser) -> dict[str, str]:
    """What the panel's form collected, under the HubSpot form's property names."""
    fields = {"email": user.email, "firstname": user.first_name, "lastname": user.last_name}
    if user.company:
        fields["company"] = user.company
    if user.phone:
        fields["phone"] = user.phone
    return {k: v for k, v in fields.items() if v}


def _visitor(request: Request, path: str, page_name: str) -> Visitor:
    """Who sent the form, so HubSpot files the submission under the visitor's session."""
    return Visitor(
        hutk=request.cookies.get("hubspotutk"),
        page_uri=str(request.base_url).rstrip("/") + path,
        page_name=page_name,
        ip_address=request.client.host if request.client else None,
    )
