"""Admin handlers for what the plugin sends: deliveries, replaying parked ones, backfills.

These read and write the plugin's own tables only, so they answer even while HubSpot is
unreachable; the admin sees HubSpot's last error on every parked delivery.
"""

from __future__ import annotations

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.delivery_words import entity_words, kind_words
from skypanel_hubspot_plugin.admin.responses import (
    PREFIX,
    Route,
    body_object,
    error,
    invalid,
    limit_message,
    query_limit,
)
from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.delivery.backfill import BackfillRunning
from skypanel_hubspot_plugin.delivery.health import health
from skypanel_hubspot_plugin.delivery.outbox import PURGED
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, QUEUED, OutboxRow
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

STATUSES = (QUEUED, DELIVERED, DEAD)
PAUSE_MESSAGE = (
    "Paused: HubSpot's daily API limit is spent. Delivery resumes when it resets, at {until}; "
    "no delivery loses an attempt meanwhile."
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_REPLAY_IDS = 1000


def delivery_json(row: OutboxRow, waiting_for: str | None = None) -> dict[str, object]:
    """One delivery; ``waitingFor`` says what a queued row waits for (an older row of its record).

    ``kind`` and ``entity`` are the outbox's codes, for scripts; ``kindLabel`` and
    ``entityLabel`` say the same in words, for a page to show."""
    return {
        "id": row.id,
        "kind": row.kind,
        "entity": row.entity,
        "kindLabel": kind_words(row.kind),
        "entityLabel": entity_words(row.entity, row.payload),
        "status": row.status,
        "attempts": row.attempts,
        "lastError": None if row.last_error is None else scrub(row.last_error),  # older rows
        "hubspotId": row.hubspot_id,
        "createdAt": row.created_at.isoformat(),
        "deliveredAt": row.delivered_at.isoformat() if row.delivered_at else None,
        "nextAttemptAt": row.next_attempt_at.isoformat() if row.status == QUEUED else None,
        "waitingFor": waiting_for,
        "purged": row.payload == PURGED,  # its personal data erased after delivery
    }


def get_deliveries(request: AdminRequest) -> AdminResponse:
    """GET …/deliveries?status=&limit=: counts by status and the newest rows."""
    errors: dict[str, str] = {}
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}"
    limit = query_limit(request, DEFAULT_LIMIT, MAX_LIMIT)
    if limit is None:
        errors["limit"] = limit_message(MAX_LIMIT)
    if errors or limit is None:
        return invalid("Invalid query", errors)
    outbox = runtime.current().outbox
    counts = outbox.counts()
    rows = outbox.rows(status=status, limit=limit)
    waits = outbox.waiting_for(rows)
    paused = outbox.paused_until()
    return AdminResponse(
        200,
        {
            "counts": {s: counts.get(s, 0) for s in STATUSES},
            "pausedUntil": paused.isoformat() if paused else None,
            "paused": PAUSE_MESSAGE.format(until=paused.isoformat()) if paused else None,
            "deliveries": [delivery_json(r, waits.get(r.id or 0)) for r in rows],
        },
    )


def post_replay(request: AdminRequest) -> AdminResponse:
    """POST …/deliveries/replay: queues parked deliveries again, ``{"ids": [...]}`` or all."""
    body = {} if request.body is None else body_object(request, "Invalid replay")
    if isinstance(body, AdminResponse):
        return body
    unknown = {k: "is not a replay field (expected ids)" for k in body if k != "ids"}
    ids = body.get("ids")
    if ids is not None and not (
        isinstance(ids, list)
        and len(ids) <= MAX_REPLAY_IDS
        and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids)
    ):
        unknown["ids"] = f"must be a list of at most {MAX_REPLAY_IDS} delivery ids"
    if unknown:
        return invalid("Invalid replay", unknown)
    rt = runtime.current()
    replayed = rt.outbox.replay(
        ids if isinstance(ids, list) else None,
        rt.settings().contact_property_map,
        Actor.of(request),
    )
    return AdminResponse(200, {"success": True, "replayed": replayed})


def get_backfill(request: AdminRequest) -> AdminResponse:
    """GET …/backfill: the latest contact backfill's progress, or null before the first."""
    backfills = runtime.current().backfills
    latest = backfills.latest()
    return AdminResponse(
        200, {"backfill": backfills.progress(latest).as_json() if latest else None}
    )


def post_backfill(request: AdminRequest) -> AdminResponse:
    """POST …/backfill: starts syncing every panel user (or resumes one cut short)."""
    rt = runtime.current()
    if rt.list_users is None:
        return error(
            409,
            "The panel has not told the plugin how to list its users",
            "The host passes HostContext(list_users=...) at start-up; see docs/host-guide.md.",
        )
    settings = rt.settings()
    if not settings.enabled or settings.token is None:
        return error(409, "Enable HubSpot and save an access token before syncing contacts")
    latest = rt.backfills.latest()
    if latest is not None and rt.backfills.progress(latest).state == "delivering":
        return error(409, "A contact backfill is still being delivered")
    try:
        job = rt.backfills.start_in_background(rt.list_users, Actor.of(request))
    except BackfillRunning as exc:
        return error(409, str(exc))
    return AdminResponse(202, {"success": True, "backfill": rt.backfills.progress(job).as_json()})


def get_status(request: AdminRequest) -> AdminResponse:
    """GET …/status: delivery's health at a glance (the same as ``skypanel-hubspot status``)."""
    rt = runtime.current()
    state = health(
        rt.outbox,
        rt.settings().rate_limit,
        rt.api_version(),
        ticket_changes_problem=rt.ticket_sync_problem(),
    )
    return AdminResponse(200, state.as_json())


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/status", get_status),
    ("GET", f"{PREFIX}/deliveries", get_deliveries),
    ("POST", f"{PREFIX}/deliveries/replay", post_replay),
    ("GET", f"{PREFIX}/backfill", get_backfill),
    ("POST", f"{PREFIX}/backfill", post_backfill),
)
