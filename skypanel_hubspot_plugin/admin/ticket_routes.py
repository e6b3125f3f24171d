"""Admin handlers for HubSpot tickets: list them, or open one by hand for a contact.

Panel tickets reach HubSpot through the outbox; these routes are for the admin who wants
to see what arrived or to open a ticket for someone directly.
"""

from __future__ import annotations

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import (
    PREFIX,
    Route,
    body_object,
    crm_object_json,
    error,
    hubspot_error,
    invalid,
    page_json,
    page_query,
)
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.mapping.contact_fields import clean_email
from skypanel_hubspot_plugin.mapping.ticket_fields import (
    CATEGORIES,
    HUBSPOT_CATEGORIES,
    PRIORITIES,
    ticket_properties,
)
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse, Ticket
from skypanel_hubspot_plugin.settings.model import HubSpotSettings

TICKET_FIELDS = ("subject", "content", "priority", "category", "contactEmail")
PRIORITY_WORDS = sorted({*PRIORITIES, *(v.lower() for v in PRIORITIES.values())})


def get_tickets(request: AdminRequest) -> AdminResponse:
    """GET …/tickets?limit=&after=: one page of HubSpot tickets and the cursor for the next."""
    query = page_query(request)
    if isinstance(query, AdminResponse):
        return query
    limit, after = query
    try:
        page = runtime.current().service().list_tickets(limit=limit, after=after)
    except HubSpotError as exc:
        return hubspot_error(exc)
    return AdminResponse(200, page_json("tickets", page))


def _ticket_input(
    body: dict[str, object], settings: HubSpotSettings
) -> tuple[dict[str, str], str | None]:
    """HubSpot properties and the contact's email from an admin's JSON; raises naming each bad field."""
    errors: dict[str, str] = {}
    text: dict[str, str] = {}
    for key, value in body.items():
        if key not in TICKET_FIELDS:
            errors[key] = f"is not a ticket field (expected one of {', '.join(TICKET_FIELDS)})"
        elif value is not None and not isinstance(value, str):
            errors[key] = "must be text"
        elif value:
            text[key] = value
    priority = text.get("priority", "medium").strip().lower()
    if priority not in PRIORITY_WORDS:
        errors["priority"] = f"must be one of {', '.join(PRIORITY_WORDS)}"
    category = text.get("category", "").strip()
    if (
        category
        and category.upper() not in HUBSPOT_CATEGORIES
        and category.lower() not in CATEGORIES
    ):
        errors["category"] = f"must be one of {', '.join(HUBSPOT_CATEGORIES)}"
    email = None
    if "contactEmail" in text:
        try:
            email = clean_email(text["contactEmail"], "contactEmail")
        except InvalidInput as exc:
            errors.update(exc.errors)
    ticket = Ticket(
        id="",
        subject=text.get("subject", ""),
        content=text.get("content", ""),
        priority=priority,
        category=category,
    )
    try:
        props = ticket_properties(ticket, settings)
    except InvalidInput as exc:
        for key, message in exc.errors.items():
            errors.setdefault(key, message)
    if errors:
        raise InvalidInput(errors)
    return props, email


def post_tickets(request: AdminRequest) -> AdminResponse:
    """POST …/tickets: opens a ticket in the configured pipeline, tied to a contact if named."""
    body = body_object(request, "Invalid ticket")
    if isinstance(body, AdminResponse):
        return body
    rt = runtime.current()
    try:
        props, email = _ticket_input(body, rt.settings())
    except InvalidInput as exc:
        return invalid("Invalid ticket", exc.errors)
    try:
        service = rt.service()
        contact_id = None
        if email is not None:
            contact = service.get_contact_by_email(email)
            if contact is None:
                return error(
                    422, "Invalid ticket", {"contactEmail": "no HubSpot contact has this email"}
                )
            contact_id = contact.id
        created = service.create_ticket(props, contact_id=contact_id)
    except HubSpotError as exc:
        return hubspot_error(exc)
    return AdminResponse(201, {"success": True, "ticket": crm_object_json(created)})


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/tickets", get_tickets),
    ("POST", f"{PREFIX}/tickets", post_tickets),
)
