"""The plugins' routes as two Flask blueprints: the admin API and the public one.

Admin routes run the host's admin check before anything else and, when they change
something, a CSRF check: the host's own callable, else Flask-WTF's ``CSRFProtect`` when
the app has one. With neither, a state-changing admin route refuses every caller (403
naming the fix): an unprotected settings form is worse than none. The public routes (the
chat config, HubSpot's signed webhooks) have no check, and are exempt from Flask-WTF's.

Bodies are handled as by every adapter (:mod:`..admin.request_body`): at most 1 MB, read
after the route's before-body check, JSON parsed strictly for admin routes. Refusals are
JSON in the plugin's error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pluggy
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import Forbidden, HTTPException

from skypanel_hubspot_plugin.admin.request_body import (
    MAX_BODY,
    STATE_CHANGING,
    admin_request,
    declared_too_large,
    too_large,
)
from skypanel_hubspot_plugin.admin.responses import before_body_check
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

log = logging.getLogger(__name__)

Handler = Callable[[AdminRequest], AdminResponse]
#: The host's check, called with no argument inside the request: a true value lets the
#: request through, a false one refuses it (403); it may also ``abort(401)`` itself.
Check = Callable[[], Any]
#: Who the admin making the request is, for the audit trail (None: unknown).
Identify = Callable[[], "str | None"]

ADMIN_BLUEPRINT = "skypanel_hubspot_admin"
READ_CHUNK = 65536
PUBLIC_BLUEPRINT = "skypanel_hubspot_public"
NO_CSRF_CHECK = (
    "No CSRF check protects the HubSpot admin API: pass csrf_check=... to HubSpot.init_app, "
    "or initialise Flask-WTF's CSRFProtect on the app."
)


def admin_blueprint(
    pm: pluggy.PluginManager,
    *,
    require_admin: Check,
    csrf_check: Check | None,
    admin_identity: Identify | None = None,
) -> Blueprint:
    """Every route of ``skypanel_register_admin_routes`` behind the host's checks.

    The audit trail names the admin by ``admin_identity()``, else by what ``require_admin()``
    returned when that is a string (a check may return the admin's name as its true value);
    the address is ``request.remote_addr`` (behind a proxy, the host's ``ProxyFix`` makes it
    the caller's)."""
    blueprint = Blueprint(ADMIN_BLUEPRINT, __name__)
    blueprint.register_error_handler(HTTPException, _error_json)
    taken: set[str] = set()

    def register(method: str, path: str, handler: Handler) -> None:
        changes = method.upper() in STATE_CHANGING

        def guarded() -> Response:
            allowed = require_admin()
            if not allowed:
                raise Forbidden("Administrators only")
            if changes:
                _check_csrf(csrf_check)
            if admin_identity is not None:
                actor = admin_identity()
            else:
                actor = allowed if isinstance(allowed, str) else None
            return _serve(handler, strict_json=True, actor=actor, client=request.remote_addr)

        _add(blueprint, taken, method, path, guarded)

    pm.hook.skypanel_register_admin_routes(register=register)
    return blueprint


def public_blueprint(pm: pluggy.PluginManager) -> Blueprint:
    """The routes of ``skypanel_register_public_routes``, with no check of the host's."""
    blueprint = Blueprint(PUBLIC_BLUEPRINT, __name__)
    blueprint.register_error_handler(HTTPException, _error_json)
    taken: set[str] = set()

    def register(method: str, path: str, handler: Handler) -> None:
        _add(blueprint, taken, method, path, lambda: _serve(handler, strict_json=False))

    pm.hook.skypanel_register_public_routes(register=register)
    return blueprint


def _add(
    blueprint: Blueprint, taken: set[str], method: str, path: str, view: Callable[[], Response]
) -> None:
    # An endpoint name per route, from the path's last part (url_for(
    # "skypanel_hubspot_admin.post_settings")); from the whole path if a plugin's clashes.
    name = f"{method.lower()}_{path.rstrip('/').rsplit('/', 1)[-1]}"
    if name in taken:
        name = f"{method.lower()}_{path}"
    name = "".join(c if c.isalnum() else "_" for c in name)
    taken.add(name)
    view.__name__ = name
    blueprint.add_url_rule(path, endpoint=name, view_func=view, methods=[method.upper()])


def _check_csrf(csrf_check: Check | None) -> None:
    if csrf_check is not None:
        if not csrf_check():
            raise Forbidden("The CSRF token is missing or wrong")
        return
    csrf = current_app.extensions.get("csrf")  # Flask-WTF's CSRFProtect
    if csrf is not None and not current_app.config.get("WTF_CSRF_ENABLED", True):
        return  # the host turned Flask-WTF's CSRF off (its tests, say): its decision
    if csrf is None:
        log.error(NO_CSRF_CHECK)
        raise Forbidden(NO_CSRF_CHECK)
    csrf.protect()  # raises CSRFError (400, with Flask-WTF's reason) when the token is bad


def _error_json(exc: HTTPException) -> tuple[Response, int]:
    body = {"success": False, "message": exc.description, "details": None}
    return jsonify(body), exc.code or 500


def _json(answer: AdminResponse) -> Response:
    if answer.content_type is not None:  # text as it is (the metrics)
        return Response(answer.body, answer.status, content_type=answer.content_type)
    response = jsonify(answer.body)
    response.status_code = answer.status
    return response


def _read_body() -> bytes | None:
    """The body, read a chunk at a time (a socket's read may return less than asked) and
    never more than ``MAX_BODY + 1`` bytes of it; None as soon as it is larger."""
    chunks: list[bytes] = []
    size = 0
    while chunk := request.stream.read(min(READ_CHUNK, MAX_BODY + 1 - size)):
        size += len(chunk)
        if size > MAX_BODY:
            return None  # stop reading: the rest is never held in memory
        chunks.append(chunk)
    return b"".join(chunks)


def _serve(
    handler: Handler,
    *,
    strict_json: bool,
    actor: str | None = None,
    client: str | None = None,
) -> Response:
    query = request.args.to_dict()
    headers = dict(request.headers.items())
    before_body = before_body_check(handler)
    if before_body is not None:
        head = AdminRequest(
            query=query,
            method=request.method,
            url=request.url,
            headers={k.lower(): v for k, v in headers.items()},
        )
        refused = before_body(head)
        if refused is not None:
            return _json(refused)
    if declared_too_large(request.headers.get("Content-Length")):
        return _json(too_large())
    raw = _read_body()
    if raw is None:
        return _json(too_large())
    built = admin_request(
        raw,
        strict_json=strict_json,
        query=query,
        method=request.method,
        url=request.url,
        headers=headers,
        actor=actor,
        client_address=client,
    )
    if isinstance(built, AdminResponse):
        return _json(built)
    return _json(handler(built))
