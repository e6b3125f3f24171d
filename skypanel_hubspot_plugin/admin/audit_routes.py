"""Admin handler for the audit trail: who changed the integration, newest first, a page at a time."""

from __future__ import annotations

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import (
    PREFIX,
    Route,
    invalid,
    limit_message,
    query_limit,
)
from skypanel_hubspot_plugin.audit.trail import entry_json
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

DEFAULT_LIMIT = 20
MAX_LIMIT = 200
MAX_ID = 2**63 - 1


def before_query(request: AdminRequest) -> int | str | None:
    """``?before=`` as an entry id, None when absent, or the problem with it."""
    raw = request.query.get("before") or ""
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID))):
        return "must be the id of an entry (a whole number)"
    value = int(raw)
    return value if 0 < value <= MAX_ID else "must be the id of an entry (a whole number)"


def get_audit(request: AdminRequest) -> AdminResponse:
    """GET …/audit?limit=&before=: the newest entries; ``next.before`` asks for the page after.

    ``next`` is null on the last page."""
    errors: dict[str, str] = {}
    limit = query_limit(request, DEFAULT_LIMIT, MAX_LIMIT)
    if limit is None:
        errors["limit"] = limit_message(MAX_LIMIT)
    before = before_query(request)
    if isinstance(before, str):
        errors["before"] = before
    if errors or limit is None or isinstance(before, str):
        return invalid("Invalid query", errors)
    # One more than asked: whether a next page exists, without a count of the table.
    found = runtime.current().audit.entries(limit + 1, before)
    page = found[:limit]
    more = len(found) > limit and page
    return AdminResponse(
        200,
        {
            "entries": [entry_json(e) for e in page],
            "next": {"before": page[-1].id} if more else None,
        },
    )


ROUTES: tuple[Route, ...] = (("GET", f"{PREFIX}/audit", get_audit),)
