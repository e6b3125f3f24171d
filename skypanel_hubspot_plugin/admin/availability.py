"""Routes of a plugin that is not running answer 503, never 500.

When ``skypanel_startup`` failed (an unusable settings table, a bad encryption key) or
was never fired, there is no runtime: every handler would raise. :func:`guarded` turns
that into 503, with the reason for admins and a generic message for public callers (the
reason can name the host's database or configuration).
"""

from __future__ import annotations

import functools
import logging

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import (
    BeforeBody,
    Handler,
    Route,
    before_body_check,
    error,
    with_before_body,
)
from skypanel_hubspot_plugin.common.log_once import LogOnce
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.runtime import PluginNotStarted

UNAVAILABLE = "HubSpot is unavailable"

_report_once = LogOnce(logging.getLogger(__name__), "HubSpot route answered 503")


def _unavailable(exc: PluginNotStarted, public: bool) -> AdminResponse:
    _report_once(exc)
    if public:
        return error(503, UNAVAILABLE)
    return error(503, UNAVAILABLE, {"plugin": exc.reason})


def guarded(handler: Handler, *, public: bool) -> Handler:
    """``handler``, answering 503 while the plugin is not running (and its before-body
    check too, so an adapter running that check first gets the same answer)."""

    @functools.wraps(handler)
    def route(request: AdminRequest) -> AdminResponse:
        try:
            runtime.current()  # first, so the answer does not depend on the body
            return handler(request)
        except PluginNotStarted as exc:
            return _unavailable(exc, public)

    check = before_body_check(handler)
    if check is None:
        return route

    def guarded_check(request: AdminRequest) -> AdminResponse | None:
        try:
            runtime.current()
            return check(request)
        except PluginNotStarted as exc:
            return _unavailable(exc, public)

    bound: BeforeBody = guarded_check
    return with_before_body(route, bound)


def guarded_routes(routes: tuple[Route, ...], *, public: bool) -> tuple[Route, ...]:
    return tuple(
        (method, path, guarded(handler, public=public)) for method, path, handler in routes
    )
