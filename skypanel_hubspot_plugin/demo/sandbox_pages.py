"""The sandbox page: the admin plays a HubSpot agent on the fake HubSpot's tickets.

Moving a ticket to another stage here changes it in the fake HubSpot, which then sends
its signed webhook to the panel, as HubSpot would (or, with polling chosen, the worker
finds the change at its next poll); the customer's ticket page shows the new status.
Answering a ticket, noting on it and turning a chat into a ticket are in
:mod:`.sandbox_conversation`. Only there when the demo runs against the fake.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.demo import auth
from skypanel_hubspot_plugin.testing import (
    FAKE_APP_SECRET,
    FAKE_CONTACT_FORM_ID,
    FAKE_TICKET_FORM_ID,
    FakeHubSpot,
)

from .csrf import check_csrf
from .forms import MESSAGE_MAX
from .host import get_host, render

router = APIRouter()
CONTACT_FIELDS = ("email", "firstname", "lastname", "company", "phone")


#: A custom ticket pipeline of the sandbox portal, besides HubSpot's default one.
HOSTING_PIPELINE = (
    "hosting",
    "Hosting support",
    [("hs-new", "New"), ("hs-waiting", "Waiting on customer"), ("hs-working", "Being worked on")],
)
HOSTING_CLOSED = ("hs-solved", "Solved")


def add_sandbox_forms(fake: FakeHubSpot) -> None:
    """The forms a portal admin would build in HubSpot's editor for the panel's two forms,
    a custom ticket pipeline of their own, whose "Solved" stage HubSpot marks closed, and
    custom properties for the panel's own fields to fill (see the settings' property maps)."""
    fake.add_form(FAKE_CONTACT_FORM_ID, CONTACT_FIELDS, required=("email",))
    fake.add_form(FAKE_TICKET_FORM_ID, CONTACT_FIELDS, required=("email",))
    pipeline_id, label, stages = HOSTING_PIPELINE
    fake.add_pipeline(pipeline_id, label, [*stages, HOSTING_CLOSED], closed=[HOSTING_CLOSED[0]])
    fake.add_property("contacts", "hosting_plan", label="Hosting plan")
    fake.add_property(
        "contacts", "server_count", label="Servers", type="number", field_type="number"
    )
    fake.add_property("tickets", "panel_server", label="Server")


Field = Annotated[str, Form()]


def subscribe_sandbox_webhooks(fake: FakeHubSpot, target_url: str) -> None:
    """The sandbox app's webhooks to the panel, signed with the fake app's client secret, in
    HubSpot's generic format: the one that reports an email tied to a ticket (an agent's
    reply) as well as ticket changes, so both reach the panel at once."""
    fake.subscribe_webhooks(target_url, FAKE_APP_SECRET, format="generic")


def sandbox_of(request: Request) -> FakeHubSpot:
    sandbox = get_host(request).config.sandbox
    if sandbox is None:
        raise HTTPException(404, "The demo runs against a real HubSpot: there is no sandbox")
    return sandbox


@router.get("/admin/sandbox")
def sandbox_page(request: Request) -> Response:
    if not auth.is_admin(request):
        return RedirectResponse("/admin/login", status_code=303)
    sandbox = sandbox_of(request)
    tickets = sorted(sandbox.tickets(), key=lambda t: int(t["id"]))
    pipelines = sandbox.ticket_pipelines()
    for ticket in tickets:  # each ticket moves within its own pipeline
        ticket["stages"] = pipelines.get(ticket["properties"].get("hs_pipeline") or "0", [])
    contacts = sorted(email for c in sandbox.contacts() if (email := c["properties"].get("email")))
    context = {"tickets": tickets, "contacts": contacts, "message_max": MESSAGE_MAX}
    return render(request, "sandbox.html", context)


@router.post("/admin/sandbox/tickets/{ticket_id}/stage")
def move_ticket(
    request: Request, ticket_id: str, stage: Field = "", csrf_token: Field = ""
) -> Response:
    auth.require_admin(request)
    check_csrf(request, csrf_token)
    sandbox = sandbox_of(request)
    found = [t for t in sandbox.tickets() if t["id"] == ticket_id]
    pipeline = found[0]["properties"].get("hs_pipeline") or "0" if found else None
    stages = sandbox.ticket_pipelines().get(pipeline or "", [])
    if stage not in {s for s, _ in stages}:
        raise HTTPException(422, "Pick one of the pipeline's stages")
    # With polling chosen, HubSpot sends nothing: the worker's next poll finds the change.
    webhooks = runtime.current().settings().ticket_sync == "webhooks"
    sandbox.change_ticket(ticket_id, {"hs_pipeline_stage": stage}, deliveries=int(webhooks))
    return RedirectResponse("/admin/sandbox", status_code=303)
