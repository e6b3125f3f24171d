"""HubSpot's webhook route: ticket changes made in HubSpot reach the panel, once each.

HubSpot POSTs a JSON array of events signed with the app's client secret. The route
checks the v3 signature first (unsigned, badly signed or stale: 401, nothing read), then
the body's shape (malformed: 400, nothing changed), then hands the events to
:mod:`skypanel_hubspot_plugin.webhooks.events`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import Route, error
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.webhooks.events import handle_event, parse_events
from skypanel_hubspot_plugin.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_v3

log = logging.getLogger(__name__)

WEBHOOKS = "/api/hubspot/webhooks"


def post_webhook(request: AdminRequest) -> AdminResponse:
    """POST /api/hubspot/webhooks: verify, parse, then hand each new ticket event to the host."""
    rt = runtime.current()
    settings = rt.settings()
    if settings.app_secret is None:
        return error(401, "HubSpot webhooks are not configured: no app client secret is saved")
    headers = request.headers
    if not verify_v3(
        settings.app_secret.reveal(),
        request.method,
        settings.webhook_url or request.url,
        request.raw_body,
        headers.get(TIMESTAMP_HEADER),
        headers.get(SIGNATURE_HEADER),
    ):
        log.warning("HubSpot webhook refused: missing, wrong or stale signature")
        return error(401, "Invalid HubSpot signature")
    try:
        events = parse_events(request.raw_body)
    except InvalidInput as exc:
        return error(400, "Malformed HubSpot webhook", exc.errors)
    if settings.ticket_sync != "webhooks":
        # Polling (or nothing) is the chosen way back: taking both would hand a change twice.
        return AdminResponse(200, {"success": True, "handled": 0, "ignored": len(events)})
    handled = ignored = 0
    for event in events:
        if handle_event(rt.outbox, rt.plugin_manager, settings, event):
            handled += 1
        else:
            ignored += 1
    return AdminResponse(200, {"success": True, "handled": handled, "ignored": ignored})


WEBHOOK_ROUTES: Sequence[Route] = (("POST", WEBHOOKS, post_webhook),)
