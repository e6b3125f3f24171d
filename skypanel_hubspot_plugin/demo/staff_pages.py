"""The staff's side of support in the panel: every customer's tickets, and one ticket's
conversation with a form to answer the customer from the panel.

A staff message is stored and ``skypanel_on_ticket_message_added`` fired in one
transaction, like a customer's; it reaches the HubSpot ticket as a sent email, next to the
replies HubSpot's agents write there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select
from starlette.responses import Response

from skypanel_hubspot_plugin.demo import auth

from .conversation import ENDED, STAFF_WORDS, add_message, thread, when
from .csrf import check_csrf
from .forms import LABELS, MESSAGE_MAX, message_error
from .host import get_host, render
from .panel_tables import STAFF, PanelTicket, PanelUser

router = APIRouter()
Field = Annotated[str, Form()]
#: How a staff message is signed, in the panel and in HubSpot.
STAFF_NAME = "Panel support"


@router.get("/admin/tickets")
def tickets_page(request: Request) -> Response:
    if not auth.is_admin(request):
        return RedirectResponse("/admin/login", status_code=303)
    with Session(get_host(request).engine) as session:
        rows = session.exec(
            select(PanelTicket, PanelUser)
            .join(PanelUser, col(PanelUser.id) == col(PanelTicket.user_id))
            .order_by(col(PanelTicket.id).desc())
        ).all()
        context = {"rows": rows, "labels": LABELS}
        return render(request, "staff_tickets.html", context)


@router.get("/admin/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: int) -> Response:
    if not auth.is_admin(request):
        return RedirectResponse("/admin/login", status_code=303)
    with Session(get_host(request).engine) as session:
        return _page(request, session, _ticket(session, ticket_id), "", None)


@router.post("/admin/tickets/{ticket_id}/messages")
def write_message(
    request: Request, ticket_id: int, body: Field = "", csrf_token: Field = ""
) -> Response:
    auth.require_admin(request)
    check_csrf(request, csrf_token)
    host = get_host(request)
    text = body.strip()
    with Session(host.engine) as session:
        ticket = _ticket(session, ticket_id)
        error = "This ticket is closed" if ticket.status in ENDED else message_error(text)
        if error:
            return _page(request, session, ticket, body, error, status_code=422)
        add_message(host.pm, session, ticket, author_kind=STAFF, body=text, author_name=STAFF_NAME)
        session.commit()
    return RedirectResponse(f"/admin/tickets/{ticket_id}#reply", status_code=303)


def _ticket(session: Session, ticket_id: int) -> PanelTicket:
    ticket = session.get(PanelTicket, ticket_id)
    if ticket is None:
        raise HTTPException(404, "No such ticket")
    return ticket


def _page(
    request: Request,
    session: Session,
    ticket: PanelTicket,
    draft: str,
    error: str | None,
    *,
    status_code: int = 200,
) -> Response:
    context = {
        "ticket": ticket,
        "customer": session.get(PanelUser, ticket.user_id),
        "messages": thread(session, ticket),
        "words": STAFF_WORDS,
        "when": when,
        "labels": LABELS,
        "open": ticket.status not in ENDED,
        "draft": draft,
        "errors": {"body": error} if error else {},
        "message_max": MESSAGE_MAX,
    }
    return render(request, "staff_ticket.html", context, status_code=status_code)
