"""One ticket's page for its customer: the ticket, its conversation, and a reply form.

The conversation is the customer's own messages, the panel staff's and the replies
HubSpot's agents wrote in HubSpot (brought back by the plugin), in the order they were
written. HubSpot's internal notes never reach the panel, so they are never here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from .conversation import CUSTOMER_WORDS, ENDED, add_message, thread, when
from .csrf import check_csrf
from .customer_pages import current_customer
from .forms import LABELS, MESSAGE_MAX, message_error
from .host import get_host, render
from .panel_tables import CUSTOMER, PanelTicket, PanelUser

router = APIRouter()
Field = Annotated[str, Form()]


def _own_ticket(session: Session, viewer: PanelUser, ticket_id: int) -> PanelTicket:
    ticket = session.get(PanelTicket, ticket_id)
    if ticket is None or ticket.user_id != viewer.id:
        raise HTTPException(404, "No such ticket")  # another customer's ticket: not there
    return ticket


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: int) -> Response:
    with Session(get_host(request).engine) as session:
        viewer = current_customer(request, session)
        if viewer is None:
            return RedirectResponse("/", status_code=303)
        ticket = _own_ticket(session, viewer, ticket_id)
        return _page(request, session, viewer, ticket, "", None)


@router.post("/tickets/{ticket_id}/messages")
def write_message(
    request: Request, ticket_id: int, body: Field = "", csrf_token: Field = ""
) -> Response:
    check_csrf(request, csrf_token)
    host = get_host(request)
    text = body.strip()
    with Session(host.engine) as session:
        viewer = current_customer(request, session)
        if viewer is None:
            return RedirectResponse("/", status_code=303)
        ticket = _own_ticket(session, viewer, ticket_id)
        error = "This ticket is closed" if ticket.status in ENDED else message_error(text)
        if error:
            return _page(request, session, viewer, ticket, body, error, status_code=422)
        name = f"{viewer.first_name} {viewer.last_name}".strip()
        add_message(
            host.pm,
            session,
            ticket,
            author_kind=CUSTOMER,
            body=text,
            author_name=name,
            author_email=viewer.email,
        )
        session.commit()
    return RedirectResponse(f"/tickets/{ticket_id}#reply", status_code=303)


def _page(
    request: Request,
    session: Session,
    viewer: PanelUser,
    ticket: PanelTicket,
    draft: str,
    error: str | None,
    *,
    status_code: int = 200,
) -> Response:
    context = {
        "ticket": ticket,
        "messages": thread(session, ticket),
        "words": CUSTOMER_WORDS,
        "when": when,
        "labels": LABELS,
        "open": ticket.status not in ENDED,
        "draft": draft,
        "errors": {"body": error} if error else {},
        "message_max": MESSAGE_MAX,
    }
    return render(request, "ticket.html", context, viewer=viewer, status_code=status_code)
