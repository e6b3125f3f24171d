"""The plugins' routes as Starlette ``Route`` objects (``pip install skypanel-hubspot-plugin[starlette]``).

For a Starlette application without FastAPI; the FastAPI adapter serves its routes through
the same endpoints. The host keeps authority: ``require_admin`` runs before every admin
route and ``require_csrf`` before every state-changing one (POST, PUT, PATCH, DELETE).
Each takes the ``Request`` (a plain or an ``async`` function) and refuses a caller by
raising ``HTTPException(401)`` or ``HTTPException(403)``, which the host's app answers as
it answers any. ``admin_identity(request)`` names the admin for the audit trail (by
default Starlette's ``request.user`` when an ``AuthenticationMiddleware`` set one); the
address recorded is ``request.client``'s, so behind a proxy the host installs uvicorn's
``ProxyHeadersMiddleware`` (or its own) to make it the caller's. Handlers stay framework-neutral and run in the threadpool, since they
wait on the database and on HubSpot::

    app = Starlette(routes=[
        *admin_routes(pm, require_admin=admin_only, require_csrf=csrf_checked),
        *public_routes(pm),
        ...  # the panel's own routes
    ])

The routes are returned as a list rather than a ``Mount``: their paths are the plugin's
absolute paths (``/api/admin/settings/hubspot/...``), and a ``Mount("")`` would swallow
every path the host routes after it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence

import pluggy
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from skypanel_hubspot_plugin.admin.request_body import (
    MAX_BODY,
    STATE_CHANGING,
    admin_request,
    declared_too_large,
    too_large,
)
from skypanel_hubspot_plugin.admin.responses import before_body_check
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

Handler = Callable[[AdminRequest], AdminResponse]
#: A host's check: returns to let the request through, raises HTTPException to refuse it.
Check = Callable[[Request], "Awaitable[None] | None"]
#: Who the admin making a request is, for the audit trail (None: unknown).
Identify = Callable[[Request], "str | None"]
Endpoint = Callable[[Request], Awaitable[Response]]


def admin_routes(
    pm: pluggy.PluginManager,
    *,
    require_admin: Check,
    require_csrf: Check,
    admin_identity: Identify | None = None,
) -> list[BaseRoute]:
    """Every route the plugins register through ``skypanel_register_admin_routes``, each
    behind ``require_admin``, the state-changing ones behind ``require_csrf`` too;
    ``admin_identity(request)`` names the admin (default: :func:`authenticated_user`)."""
    routes: list[BaseRoute] = []
    identify = admin_identity or authenticated_user

    def register(method: str, path: str, handler: Handler) -> None:
        guards = [require_admin]
        if method.upper() in STATE_CHANGING:
            guards.append(require_csrf)
        serve = endpoint(handler, strict_json=True, guards=guards, identify=identify)
        routes.append(Route(path, serve, methods=[method]))

    pm.hook.skypanel_register_admin_routes(register=register)
    return routes


def public_routes(pm: pluggy.PluginManager) -> list[BaseRoute]:
    """The routes plugins register through ``skypanel_register_public_routes`` (the chat
    config, HubSpot's signed webhooks): no admin or CSRF check."""
    routes: list[BaseRoute] = []
    pm.hook.skypanel_register_public_routes(
        register=lambda method, path, handler: routes.append(
            Route(path, endpoint(handler, strict_json=False), methods=[method])
        )
    )
    return routes


def authenticated_user(request: Request) -> str | None:
    """The name Starlette's ``AuthenticationMiddleware`` gives the signed-in user, if any."""
    user = request.scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    name = getattr(user, "display_name", "") or getattr(user, "identity", "")
    return str(name) or None


async def _run_check(check: Check, request: Request) -> None:
    if inspect.iscoroutinefunction(check):
        await check(request)
    else:  # a plain function may query the host's database: keep it off the event loop
        pending = await run_in_threadpool(check, request)
        if inspect.isawaitable(pending):
            await pending


def _json(response: AdminResponse) -> Response:
    if response.content_type is not None:  # text as it is (the metrics)
        return Response(response.body, response.status, media_type=response.content_type)
    return JSONResponse(response.body, status_code=response.status)


async def read_body(request: Request) -> bytes | None:
    """The body, read a chunk at a time and never more than ``MAX_BODY + 1`` bytes of it;
    None as soon as it is larger (a declared Content-Length over the limit is not read at all)."""
    if declared_too_large(request.headers.get("content-length")):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None  # stop reading: the rest stays in the socket, never in memory
        chunks.append(chunk)
    return b"".join(chunks)


def endpoint(
    handler: Handler,
    *,
    strict_json: bool,
    guards: Sequence[Check] = (),
    identify: Identify | None = None,
) -> Endpoint:
    """An endpoint running ``guards`` then ``handler``; with ``strict_json`` a body that is
    not JSON is 422, without (public routes, which check signatures first) it reaches the
    handler as bytes.

    A route with a before-body check (the webhook's signature headers) has it run first, so
    a request it refuses has none of its body read; any body over ``MAX_BODY`` is 413.
    With ``identify`` (admin routes), the handler's request names the admin and their
    address."""
    before_body = before_body_check(handler)

    async def serve(request: Request) -> Response:
        for guard in guards:
            await _run_check(guard, request)
        headers = dict(request.headers.items())
        query = dict(request.query_params)
        if before_body is not None:
            head = AdminRequest(
                query=query,
                method=request.method,
                url=str(request.url),
                headers={k.lower(): v for k, v in headers.items()},
            )
            refused = await run_in_threadpool(before_body, head)
            if refused is not None:
                return _json(refused)
        raw = await read_body(request)
        if raw is None:
            return _json(too_large())
        actor = await run_in_threadpool(identify, request) if identify else None
        built = admin_request(
            raw,
            strict_json=strict_json,
            query=query,
            method=request.method,
            url=str(request.url),
            headers=headers,
            actor=actor,
            client_address=request.client.host if identify and request.client else None,
        )
        if isinstance(built, AdminResponse):
            return _json(built)
        answer: AdminResponse = await run_in_threadpool(handler, built)
        return _json(answer)

    return serve


__all__ = [
    "MAX_BODY",
    "Check",
    "Identify",
    "admin_routes",
    "authenticated_user",
    "endpoint",
    "public_routes",
    "read_body",
]
