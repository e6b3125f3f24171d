"""What every admin handler answers with: the seed's error shape, paging, HubSpot failures.

Errors are ``{"success": false, "message", "details"}``; validation errors are 422 with
``details`` naming each bad field. No helper here ever puts the token in a body.
"""

from __future__ import annotations

from collections.abc import Callable

from skypanel_hubspot_plugin.admin.connection_test import failure_message
from skypanel_hubspot_plugin.hubspot.errors import (
    HubSpotError,
    NotConfigured,
    NotEnabled,
    RateLimited,
)
from skypanel_hubspot_plugin.hubspot.service import CrmObject, Page
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

PREFIX = "/api/admin/settings/hubspot"
DEFAULT_PAGE = 50
MAX_PAGE = 100
#: HubSpot's cursors are opaque (``NTI1Cg%3D%3D``): any visible ASCII, up to this length.
MAX_CURSOR = 512

Handler = Callable[[AdminRequest], AdminResponse]
Route = tuple[str, str, Handler]
#: A check on a request's method, URL and headers only: an answer refuses it, None lets the
#: adapter read the body. Adapters call it before reading a single byte of the body.
BeforeBody = Callable[[AdminRequest], "AdminResponse | None"]
_BEFORE_BODY = "skypanel_before_body"


def with_before_body(handler: Handler, check: BeforeBody) -> Handler:
    """Marks ``handler`` as wanting ``check`` run before its request body is read."""
    setattr(handler, _BEFORE_BODY, check)
    return handler


def before_body_check(handler: Handler) -> BeforeBody | None:
    """The check an adapter must run before reading the body for ``handler``, if any."""
    check = getattr(handler, _BEFORE_BODY, None)
    return check if callable(check) else None


def error(status: int, message: str, details: object = None) -> AdminResponse:
    return AdminResponse(status, {"success": False, "message": message, "details": details})


def invalid(message: str, details: dict[str, str]) -> AdminResponse:
    """422 with each bad field named; the caller has changed nothing."""
    return error(422, message, details)


def hubspot_error(exc: HubSpotError) -> AdminResponse:
    if isinstance(exc, NotEnabled):
        return error(409, exc.message)
    if isinstance(exc, NotConfigured):
        return error(409, "HubSpot is not configured", exc.message)
    status = 503 if isinstance(exc, RateLimited) else 502
    return error(status, failure_message(exc), {"status": exc.status, "category": exc.category})


def body_object(request: AdminRequest, message: str) -> dict[str, object] | AdminResponse:
    """The JSON object body, or the 422 that says it is not one."""
    if not isinstance(request.body, dict):
        return invalid(message, {"body": "must be a JSON object"})
    return request.body


def query_limit(request: AdminRequest, default: int, maximum: int) -> int | None:
    """``?limit=`` as a whole number from 1 to ``maximum`` (``default`` when absent), else None."""
    raw = request.query.get("limit", str(default))
    # int() of a digit string longer than sys.get_int_max_str_digits() raises ValueError
    short = len(raw) <= len(str(maximum))
    limit = int(raw) if short and raw.isascii() and raw.isdigit() else 0
    return limit if 1 <= limit <= maximum else None


def limit_message(maximum: int) -> str:
    return f"must be a whole number from 1 to {maximum}"


def page_query(request: AdminRequest) -> tuple[int, str | None] | AdminResponse:
    """``limit`` (1‥100, default 50) and HubSpot's ``after`` cursor from the query string.

    The cursor is passed on as HubSpot wrote it: its format is HubSpot's to change, so only
    its length and its characters (visible ASCII) are checked.
    """
    limit = query_limit(request, DEFAULT_PAGE, MAX_PAGE)
    if limit is None:
        return invalid("Invalid query", {"limit": limit_message(MAX_PAGE)})
    after = request.query.get("after") or None
    if after is not None and (
        len(after) > MAX_CURSOR or not after.isascii() or not after.isprintable() or " " in after
    ):
        return invalid("Invalid query", {"after": "must be the paging cursor HubSpot returned"})
    return limit, after


def page_json(key: str, page: Page) -> dict[str, object]:
    """One page of CRM objects, with HubSpot's cursor for the next when there is one."""
    body: dict[str, object] = {key: [crm_object_json(o) for o in page.results]}
    if page.after:
        body["paging"] = {"next": {"after": page.after}}
    return body


def crm_object_json(obj: CrmObject) -> dict[str, object]:
    return {"id": obj.id, "properties": obj.properties}
