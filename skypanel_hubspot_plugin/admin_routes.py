"""The admin API's handlers, framework-neutral: ``AdminRequest`` in, ``AdminResponse`` out.

The paths and JSON shapes are the seed's. A host mounts them behind its own admin
check (see the README); each handler turns every failure into the seed's error format
``{"success": false, "message", "details"}`` and never puts the token in a body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import runtime
from .connection_test import check_connection, failure_message
from .contact_fields import contact_properties
from .errors import HubSpotError, NotConfigured, NotEnabled, RateLimited
from .invalid_input import InvalidInput
from .payloads import AdminRequest, AdminResponse
from .service import CrmObject

log = logging.getLogger(__name__)

PREFIX = "/api/admin/settings/hubspot"
DEFAULT_CONTACT_LIMIT = 50
MAX_CONTACT_LIMIT = 100

Handler = Callable[[AdminRequest], AdminResponse]


def error(status: int, message: str, details: object = None) -> AdminResponse:
    return AdminResponse(status, {"success": False, "message": message, "details": details})


def hubspot_error(exc: HubSpotError) -> AdminResponse:
    if isinstance(exc, NotEnabled):
        return error(409, exc.message)
    if isinstance(exc, NotConfigured):
        return error(409, "HubSpot is not configured", exc.message)
    status = 503 if isinstance(exc, RateLimited) else 502
    return error(status, failure_message(exc), {"status": exc.status, "category": exc.category})


def get_config(request: AdminRequest) -> AdminResponse:
    """GET …/config: the seed's shape, plus whether a token is set (never the token)."""
    settings = runtime.current().settings()
    return AdminResponse(
        200,
        {
            "enabled": settings.enabled,
            "chatEnabled": settings.chat_enabled,
            "portalId": settings.portal_id,
            "ticketEnabled": settings.ticket_enabled,
            "ticketFormId": settings.ticket_form_id,
            "contactFormId": settings.contact_form_id,
            "region": settings.region,
            "apiKeySet": settings.token is not None,
            "apiKeyLast4": settings.token.last4 if settings.token else None,
            "apiKeySource": settings.token_source,
        },
    )


def post_test_connection(request: AdminRequest) -> AdminResponse:
    """POST …/test-connection: works before the integration is enabled, so admins test first."""
    rt = runtime.current()
    settings = rt.settings()
    try:
        service = rt.service(require_enabled=False)
    except HubSpotError:
        service = None
    return AdminResponse(200, check_connection(settings, service).as_json())


def get_contacts(request: AdminRequest) -> AdminResponse:
    """GET …/contacts?limit=&after=: one page of contacts and HubSpot's cursor for the next."""
    raw = request.query.get("limit", str(DEFAULT_CONTACT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_CONTACT_LIMIT:
        return error(
            422, "Invalid query", {"limit": f"must be a whole number from 1 to {MAX_CONTACT_LIMIT}"}
        )
    after = request.query.get("after") or None
    try:
        page = runtime.current().service().list_contacts(limit=limit, after=after)
    except HubSpotError as exc:
        return hubspot_error(exc)
    body: dict[str, object] = {"contacts": [_contact_json(c) for c in page.results]}
    if page.after:
        body["paging"] = {"next": {"after": page.after}}
    return AdminResponse(200, body)


def post_contacts(request: AdminRequest) -> AdminResponse:
    """POST …/contacts: validates the body, then creates the contact in HubSpot."""
    if not isinstance(request.body, dict):
        return error(422, "Invalid contact", {"body": "must be a JSON object"})
    try:
        props = contact_properties(request.body)
    except InvalidInput as exc:
        return error(422, "Invalid contact", exc.errors)
    try:
        contact = runtime.current().service().create_contact(props)
    except HubSpotError as exc:
        if exc.status == 409:
            existing = getattr(exc, "existing_id", None)
            return error(
                409,
                "A HubSpot contact with this email already exists",
                {"email": "already exists", "existingId": existing},
            )
        return hubspot_error(exc)
    return AdminResponse(201, {"success": True, "contact": _contact_json(contact)})


def _contact_json(contact: CrmObject) -> dict[str, object]:
    return {"id": contact.id, "properties": contact.properties}


ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", f"{PREFIX}/config", get_config),
    ("POST", f"{PREFIX}/test-connection", post_test_connection),
    ("GET", f"{PREFIX}/contacts", get_contacts),
    ("POST", f"{PREFIX}/contacts", post_contacts),
)
