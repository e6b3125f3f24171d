"""HubSpot's webhook route: ticket changes made in HubSpot reach the panel, once each.

HubSpot POSTs a JSON array of events signed with the app's client secret. The route
checks the signature headers and the timestamp before the body is read (an adapter runs
:func:`refuse_before_body` first), then the v3 signature over the body (unsigned, badly
signed or stale: 401, nothing changed), then
the body's shape (malformed: 400, nothing changed), then hands the events to
:mod:`skypanel_hubspot_plugin.webhooks.events`. While the host has no hook to receive
ticket changes it answers 503, so HubSpot delivers them again once it has.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import Route, error, with_before_body
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.webhooks.conversation_events import handle_conversation_event
from skypanel_hubspot_plugin.webhooks.events import Event, event_type, handle_event, parse_events
from skypanel_hubspot_plugin.webhooks.receiver import (
    NoReceiver,
    clear_problem,
    receiver_problem,
    record_problem,
    wants_changes,
)
from skypanel_hubspot_plugin.webhooks.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    fresh_timestamp,
    verify_v3,
)

log = logging.getLogger(__name__)

WEBHOOKS = "/api/hubspot/webhooks"
#: Outcomes of webhook events, as counted by the metrics.
HANDLED = "handled"
IGNORED = "ignored"
REFUSED = "refused"
BAD_SIGNATURE = "bad_signature"
MALFORMED = "malformed"
#: The type of a request's events when it was refused before they were read.
UNKNOWN = "unknown"


NO_URL = (
    "HubSpot webhooks are not configured: the panel does not know the URL HubSpot signs; "
    "set hubspot_webhook_url to the target URL entered in HubSpot"
)


def signed_url(rt: runtime.Runtime, settings: HubSpotSettings, request: AdminRequest) -> str | None:
    """The URL HubSpot signed: the admin's ``hubspot_webhook_url``, else the host's public
    base URL with this route's path and the request's query; None when neither is known.
    Never the Host header or anything else a caller chooses."""
    if settings.webhook_url:
        return settings.webhook_url
    if rt.public_base_url is None:
        return None
    query = urlsplit(request.url).query
    return f"{rt.public_base_url}{WEBHOOKS}" + (f"?{query}" if query else "")


def refuse_before_body(request: AdminRequest) -> AdminResponse | None:
    """The 401 a request gets from its headers alone (no secret saved, no URL to check the
    signature against, no signature, a stale or future timestamp), so an unsigned caller
    never makes the panel read its body."""
    rt = runtime.current()
    settings = rt.settings()
    if settings.app_secret is None:
        return error(401, "HubSpot webhooks are not configured: no app client secret is saved")
    if signed_url(rt, settings, request) is None:
        return error(401, NO_URL)
    headers = request.headers
    if not headers.get(SIGNATURE_HEADER) or not fresh_timestamp(headers.get(TIMESTAMP_HEADER)):
        log.warning("HubSpot webhook refused: missing, wrong or stale signature")
        rt.outbox.metrics.webhook_events({(UNKNOWN, BAD_SIGNATURE): 1})
        return error(401, "Invalid HubSpot signature")
    return None


def post_webhook(request: AdminRequest) -> AdminResponse:
    """POST /api/hubspot/webhooks: verify, parse, then hand each new ticket event to the host."""
    rt = runtime.current()
    settings = rt.settings()
    if settings.app_secret is None:
        return error(401, "HubSpot webhooks are not configured: no app client secret is saved")
    url = signed_url(rt, settings, request)
    if url is None:
        return error(401, NO_URL)
    headers = request.headers
    if not verify_v3(
        settings.app_secret.reveal(),
        request.method,
        url,
        request.raw_body,
        headers.get(TIMESTAMP_HEADER),
        headers.get(SIGNATURE_HEADER),
    ):
        log.warning("HubSpot webhook refused: missing, wrong or stale signature")
        rt.outbox.metrics.webhook_events({(UNKNOWN, BAD_SIGNATURE): 1})
        return error(401, "Invalid HubSpot signature")
    try:
        events = parse_events(request.raw_body)
    except InvalidInput as exc:
        log.warning("HubSpot webhook refused: %s", exc)  # the field and what is wrong, no trace
        rt.outbox.metrics.webhook_events({(UNKNOWN, MALFORMED): 1})
        return error(400, "Malformed HubSpot webhook", exc.errors)
    outcomes = Outcomes()
    try:
        return _hand_on(rt, settings, events, outcomes)
    finally:
        rt.outbox.metrics.webhook_events(outcomes)


class Outcomes(dict[tuple[str, str], int]):
    """Events counted by (subscription type, outcome), for the metrics."""

    def add(self, event: Event, outcome: str) -> None:
        key = (event_type(event.subscription_type), outcome)
        self[key] = self.get(key, 0) + 1


def _hand_on(
    rt: runtime.Runtime, settings: HubSpotSettings, events: list[Event], outcomes: Outcomes
) -> AdminResponse:
    if settings.ticket_sync != "webhooks" or not wants_changes(settings):
        # Polling (or nothing) is the chosen way back: taking both would hand a change twice;
        # with the integration or ticket support off, no change comes back at all.
        for event in events:
            outcomes.add(event, IGNORED)
        return AdminResponse(200, {"success": True, "handled": 0, "ignored": len(events)})
    engine = rt.outbox.engine
    problem = receiver_problem(rt.plugin_manager)
    handled = ignored = 0
    try:
        if problem is not None:
            raise NoReceiver(problem)
        for event in events:
            if handle_conversation_event(rt, settings, event) | handle_event(
                rt.outbox, rt.plugin_manager, settings, event
            ):
                handled += 1
                outcomes.add(event, HANDLED)
            else:
                ignored += 1
                outcomes.add(event, IGNORED)
    except NoReceiver as exc:
        # Answered 200, HubSpot would never send these again: 503 makes it retry, and
        # what was handled before stays handled (each event counts once).
        for event in events[handled + ignored :]:
            outcomes.add(event, REFUSED)
        record_problem(engine, exc.reason)
        refused(exc.reason)
        return error(503, f"Ticket changes cannot reach the panel: {exc.reason}")
    if handled:
        clear_problem(engine)
    return AdminResponse(200, {"success": True, "handled": handled, "ignored": ignored})


def refused(reason: str) -> None:
    """Logs each reason for refusing webhooks once per process: HubSpot retries for days."""
    if reason not in _refused:
        _refused.add(reason)
        log.error("HubSpot webhooks answered 503 until this is fixed: %s", reason)


_refused: set[str] = set()


WEBHOOK_ROUTES: Sequence[Route] = (
    ("POST", WEBHOOKS, with_before_body(post_webhook, refuse_before_body)),
)
