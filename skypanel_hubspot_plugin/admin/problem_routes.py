"""Admin handlers for the problems view: parked and long-waiting deliveries grouped by cause,
and replaying one group once its cause is fixed."""

from __future__ import annotations

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import PREFIX, Route, body_object, invalid
from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.delivery.problems import problems, replay_group
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse


def get_problems(request: AdminRequest) -> AdminResponse:
    """GET …/problems: the groups, parked ones first, biggest first."""
    return AdminResponse(200, problems(runtime.current().outbox).as_json())


def post_replay_group(request: AdminRequest) -> AdminResponse:
    """POST …/problems/replay ``{"key": "<group key>"}``: queues that group's parked rows again."""
    body = body_object(request, "Invalid replay")
    if isinstance(body, AdminResponse):
        return body
    details = {k: "is not a field of a group replay (expected key)" for k in body if k != "key"}
    key = body.get("key")
    if not (isinstance(key, str) and len(key) == 12 and all(c in "0123456789abcdef" for c in key)):
        details["key"] = "must be the 12-character key of a group in GET …/problems"
    if details:
        return invalid("Invalid replay", details)
    assert isinstance(key, str)
    # A key no parked group has any more (replayed already, a second click) queues nothing.
    rt = runtime.current()
    replayed = (
        replay_group(rt.outbox, key, rt.settings().contact_property_map, Actor.of(request)) or 0
    )
    return AdminResponse(200, {"success": True, "replayed": replayed})


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/problems", get_problems),
    ("POST", f"{PREFIX}/problems/replay", post_replay_group),
)
