"""The plugins' routes as Django views.

Admin routes answer only a user Django says is an admin: 401 to an anonymous caller,
403 to a signed-in user who is not active staff (or lacks ``ADMIN_PERMISSION``). They are
``csrf_protect``-ed, so a state-changing request needs Django's CSRF token even where the
host left ``CsrfViewMiddleware`` out (their answers set the CSRF cookie). Public routes (the chat's configuration and
HubSpot's webhook, which checks HubSpot's signature instead) are ``csrf_exempt``.

The audit trail names the admin by ``request.user.get_username()`` and records
``REMOTE_ADDR`` as their address (behind a proxy, set it from the proxy's header in a
middleware of the host's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect, ensure_csrf_cookie

from skypanel_hubspot_plugin import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.admin.request_body import (
    MAX_BODY,
    admin_request,
    refusal,
    too_large,
)
from skypanel_hubspot_plugin.admin.responses import before_body_check
from skypanel_hubspot_plugin.django import config, lifecycle

Handler = Callable[[AdminRequest], AdminResponse]
View = Callable[[HttpRequest], HttpResponse]


def _refusal(status: int, message: str, field: str, problem: str) -> JsonResponse:
    answer = refusal(status, message, field, problem)
    return JsonResponse(answer.body, status=answer.status, safe=False)


def admin_refusal(request: HttpRequest) -> JsonResponse | None:
    """None when Django says the caller is an admin; else the 401 or 403 answer."""
    user = getattr(request, "user", None)  # no AuthenticationMiddleware: nobody is an admin
    if user is None or not user.is_authenticated:
        return _refusal(401, "Sign in as an administrator", "user", "not signed in")
    permission = config.current().admin_permission
    allowed = user.has_perm(permission) if permission else user.is_active and user.is_staff
    if not allowed:
        needed = f"the {permission} permission" if permission else "staff status"
        return _refusal(403, "Administrators only", "user", f"needs {needed}")
    return None


def _answer(response: AdminResponse) -> HttpResponse:
    if response.content_type is not None:  # text as it is (the metrics)
        return HttpResponse(
            response.body, status=response.status, content_type=response.content_type
        )
    return JsonResponse(response.body, status=response.status, safe=False)


def _call(
    handler: Handler, request: HttpRequest, *, strict_json: bool, admin: bool = False
) -> HttpResponse:
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = {key: str(request.GET[key]) for key in request.GET}
    url = request.build_absolute_uri()
    method = request.method or "GET"
    before_body = before_body_check(handler)
    if before_body is not None:  # refused without reading the body (the webhook's signature)
        head = AdminRequest(query=query, method=method, url=url, headers=headers)
        refused = before_body(head)
        if refused is not None:
            return _answer(refused)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return _answer(too_large())
    user = getattr(request, "user", None) if admin else None
    prepared = admin_request(
        request.body,
        strict_json=strict_json,
        query=query,
        method=method,
        url=url,
        headers=headers,
        actor=user.get_username() if user is not None else None,
        client_address=request.META.get("REMOTE_ADDR") if admin else None,
    )
    return _answer(prepared if isinstance(prepared, AdminResponse) else handler(prepared))


def route_view(handlers: Mapping[str, Handler], *, admin: bool) -> View:
    """One view for the handlers of one path, by method; 405 for any other method."""
    allowed = ", ".join(sorted(handlers))

    def view(request: HttpRequest) -> HttpResponse:
        lifecycle.ensure_started()
        if admin and (refused := admin_refusal(request)) is not None:
            return refused
        handler = handlers.get((request.method or "").upper())
        if handler is None:
            response = _refusal(405, "Method not allowed", "method", f"use {allowed}")
            response["Allow"] = allowed
            return response
        return _call(handler, request, strict_json=admin, admin=admin)

    # Every admin answer sets Django's CSRF cookie, so the admin's page script has the
    # token for its next POST.
    return csrf_protect(ensure_csrf_cookie(view)) if admin else csrf_exempt(view)
