"""Admin handler for the settings page's "Check first": the contact backfill's preflight.

``POST …/backfill/check`` reads the panel's users and the portal's contact property
definitions and answers which users HubSpot would refuse (see
:mod:`skypanel_hubspot_plugin.mapping.preflight`), the same report as
``skypanel-hubspot sync-contacts --check``. It sends HubSpot no write and queues nothing.
"""

from __future__ import annotations

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import (
    PREFIX,
    Route,
    body_object,
    error,
    hubspot_error,
    invalid,
)
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.mapping.preflight import MAX_SHOWN, SHOWN, check_users
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse


def post_backfill_check(request: AdminRequest) -> AdminResponse:
    """POST …/backfill/check ``{"show": N}``: counts, and the first N problems (20 by default)."""
    body = {} if request.body is None else body_object(request, "Invalid check")
    if isinstance(body, AdminResponse):
        return body
    unknown = sorted(set(body) - {"show"})
    if unknown:
        return invalid("Invalid check", {name: "is not a field of a check" for name in unknown})
    shown = body.get("show", SHOWN)
    if isinstance(shown, bool) or not isinstance(shown, int) or not 1 <= shown <= MAX_SHOWN:
        return invalid("Invalid check", {"show": f"must be a whole number from 1 to {MAX_SHOWN}"})
    rt = runtime.current()
    if rt.list_users is None:
        return error(
            409,
            "The panel has not told the plugin how to list its users",
            "The host passes HostContext(list_users=...) at start-up; see docs/host-guide.md.",
        )
    settings = rt.settings()
    try:
        report = check_users(
            rt.service(require_enabled=False),
            rt.list_users,
            settings.contact_property_map,
            shown=shown,
        )
    except HubSpotError as exc:
        return hubspot_error(exc)
    return AdminResponse(200, {"success": True, "check": report.as_json()})


ROUTES: tuple[Route, ...] = (("POST", f"{PREFIX}/backfill/check", post_backfill_check),)
