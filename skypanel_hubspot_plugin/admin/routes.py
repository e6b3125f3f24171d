"""The seed's four admin handlers, framework-neutral: ``AdminRequest`` in, ``AdminResponse`` out.

Paths and JSON shapes are the seed's. A host mounts them (and the rest of
:data:`ADMIN_ROUTES`) behind its own admin check; see docs/host-guide.md.
"""

from __future__ import annotations

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.audit_routes import ROUTES as AUDIT_ROUTES
from skypanel_hubspot_plugin.admin.availability import guarded_routes
from skypanel_hubspot_plugin.admin.connection_test import check_connection
from skypanel_hubspot_plugin.admin.delivery_routes import ROUTES as DELIVERY_ROUTES
from skypanel_hubspot_plugin.admin.mapping_routes import ROUTES as MAPPING_ROUTES
from skypanel_hubspot_plugin.admin.metrics_route import ROUTES as METRICS_ROUTES
from skypanel_hubspot_plugin.admin.pipeline_routes import ROUTES as PIPELINE_ROUTES
from skypanel_hubspot_plugin.admin.preflight_routes import ROUTES as PREFLIGHT_ROUTES
from skypanel_hubspot_plugin.admin.problem_routes import ROUTES as PROBLEM_ROUTES
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
from skypanel_hubspot_plugin.admin.settings_routes import ROUTES as SETTINGS_ROUTES
from skypanel_hubspot_plugin.admin.ticket_routes import ROUTES as TICKET_ROUTES
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.mapping.contact_fields import contact_properties
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse


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
    result = check_connection(
        settings,
        service,
        public_base_url=rt.public_base_url,
        ticket_changes_problem=rt.ticket_sync_problem(),
    )
    return AdminResponse(200, result.as_json())


def get_contacts(request: AdminRequest) -> AdminResponse:
    """GET …/contacts?limit=&after=: one page of contacts and HubSpot's cursor for the next."""
    query = page_query(request)
    if isinstance(query, AdminResponse):
        return query
    limit, after = query
    try:
        page = runtime.current().service().list_contacts(limit=limit, after=after)
    except HubSpotError as exc:
        return hubspot_error(exc)
    return AdminResponse(200, page_json("contacts", page))


def post_contacts(request: AdminRequest) -> AdminResponse:
    """POST …/contacts: validates the body, then creates the contact in HubSpot."""
    body = body_object(request, "Invalid contact")
    if isinstance(body, AdminResponse):
        return body
    try:
        props = contact_properties(body)
    except InvalidInput as exc:
        return invalid("Invalid contact", exc.errors)
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
    return AdminResponse(201, {"success": True, "contact": crm_object_json(contact)})


SEED_ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/config", get_config),
    ("POST", f"{PREFIX}/test-connection", post_test_connection),
    ("GET", f"{PREFIX}/contacts", get_contacts),
    ("POST", f"{PREFIX}/contacts", post_contacts),
)

#: Every admin route the plugin registers, ``(method, path, handler)``; 503 with the reason
#: while the plugin is not running.
ADMIN_ROUTES: tuple[Route, ...] = guarded_routes(
    SEED_ROUTES
    + SETTINGS_ROUTES
    + MAPPING_ROUTES
    + PIPELINE_ROUTES
    + TICKET_ROUTES
    + DELIVERY_ROUTES
    + PROBLEM_ROUTES
    + METRICS_ROUTES
    + PREFLIGHT_ROUTES
    + AUDIT_ROUTES,
    public=False,
)
