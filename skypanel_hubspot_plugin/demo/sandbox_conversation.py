"""The sandbox's side of a support conversation: the admin plays a HubSpot agent.

On a HubSpot ticket's page the agent reads the ticket's timeline (the panel's messages
logged as emails, agents' replies, internal notes) and writes a reply to the customer or
an internal note; on the sandbox page they turn a visitor's chat into a ticket for a known
contact. The fake HubSpot then does what HubSpot does: it sends its signed webhook (the
sandbox app is in HubSpot's generic format, which reports an email tied to a ticket), and
the worker's poll finds the same within ``hubspot_ticket_poll_interval`` either way. An
agent's reply lands on the customer's ticket page and a chat's ticket in the customer's
list; an internal note never leaves HubSpot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.demo import auth
from skypanel_hubspot_plugin.hubspot.api import MESSAGE_ID_PROPERTY
from skypanel_hubspot_plugin.testing import FakeHubSpot
from skypanel_hubspot_plugin.testing.fake_errors import CrmError

from .conversation import when
from .csrf import check_csrf
from .forms import MESSAGE_MAX, message_error
from .host import render
from .sandbox_pages import sandbox_of

router = APIRouter()
Field = Annotated[str, Form()]
#: Words for a timeline entry's kind (the fake's thread), as an agent reads them.
KIND_WORDS = {"incoming": "Customer", "outgoing": "Agent", "note": "Internal note"}
#: An outgoing email the panel logged: its staff's answer, not one written in HubSpot.
PANEL_STAFF = "Panel staff"


def who(entry: dict[str, Any]) -> str:
    """Who wrote a timeline entry, as an agent reads it."""
    if entry["kind"] == "outgoing" and entry["properties"].get(MESSAGE_ID_PROPERTY):
        return PANEL_STAFF
    kind = str(entry["kind"])
    return KIND_WORDS.get(kind, kind)


@router.get("/admin/sandbox/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: str) -> Response:
    if not auth.is_admin(request):
        return RedirectResponse("/admin/login", status_code=303)
    return _page(request, sandbox_of(request), ticket_id, {})


@router.post("/admin/sandbox/tickets/{ticket_id}/reply")
def reply(request: Request, ticket_id: str, body: Field = "", csrf_token: Field = "") -> Response:
    return _write(request, ticket_id, body, csrf_token, note=False)


@router.post("/admin/sandbox/tickets/{ticket_id}/note")
def note(request: Request, ticket_id: str, body: Field = "", csrf_token: Field = "") -> Response:
    return _write(request, ticket_id, body, csrf_token, note=True)


@router.post("/admin/sandbox/chats")
def chat_to_ticket(
    request: Request,
    contact: Field = "",
    subject: Field = "",
    transcript: Field = "",
    csrf_token: Field = "",
) -> Response:
    """An agent turns a visitor's chat into a ticket for the contact it came from."""
    auth.require_admin(request)
    check_csrf(request, csrf_token)
    sandbox = sandbox_of(request)
    email = contact.strip().lower()
    if sandbox.contact_by_email(email) is None:
        raise HTTPException(422, "Pick one of the portal's contacts")
    text = transcript.strip()
    if problem := message_error(text):
        raise HTTPException(422, f"Chat transcript: {problem}")
    pipeline, stage = _new_ticket_place(sandbox)
    sandbox.open_ticket_as_agent(
        email, subject.strip()[:255] or "Chat", text, pipeline=pipeline, stage=stage
    )
    return RedirectResponse("/admin/sandbox", status_code=303)


def _write(request: Request, ticket_id: str, body: str, csrf_token: str, *, note: bool) -> Response:
    auth.require_admin(request)
    check_csrf(request, csrf_token)
    sandbox = sandbox_of(request)
    text = body.strip()
    field = "note" if note else "reply"
    if problem := message_error(text):
        return _page(request, sandbox, ticket_id, {field: problem}, status_code=422)
    try:
        if note:
            sandbox.add_internal_note(ticket_id, text)
        else:
            sandbox.reply_as_agent(ticket_id, text)
    except CrmError:
        raise HTTPException(404, "No such ticket in HubSpot") from None
    return RedirectResponse(f"/admin/sandbox/tickets/{ticket_id}#{field}", status_code=303)


def _new_ticket_place(sandbox: FakeHubSpot) -> tuple[str, str]:
    """The pipeline and stage a chat's ticket is opened in: the first pipeline whose tickets
    the panel brings in, at the panel's stage for new tickets (or the pipeline's first)."""
    settings = runtime.current().settings()
    pipeline = settings.import_pipeline_ids[0]
    stages = [s for s, _ in sandbox.ticket_pipelines().get(pipeline, [])]
    if settings.ticket_stage in stages or not stages:
        return pipeline, settings.ticket_stage
    return pipeline, stages[0]


def _page(
    request: Request,
    sandbox: FakeHubSpot,
    ticket_id: str,
    errors: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    found = [t for t in sandbox.tickets() if t["id"] == ticket_id]
    if not found:
        raise HTTPException(404, "No such ticket in HubSpot")
    entries: list[dict[str, Any]] = sandbox.thread(ticket_id)
    context = {
        "ticket": found[0],
        "entries": entries,
        "who": who,
        "when": lambda ms: when(datetime.fromtimestamp(ms / 1000, UTC)),
        "errors": errors,
        "message_max": MESSAGE_MAX,
    }
    return render(request, "sandbox_ticket.html", context, status_code=status_code)
