"""Mounting the plugins' routes in a FastAPI app (``pip install skypanel-hubspot-plugin[fastapi]``).

The host keeps authority: it passes ``require_admin`` (run before every admin route) and
``require_csrf`` (run before every state-changing one) as FastAPI dependencies that raise
``HTTPException(401/403)`` for a caller it refuses. Handlers stay framework-neutral and
run in the threadpool, since they wait on the database and on HubSpot.

    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    app.include_router(public_router(pm))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pluggy
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY = 1_000_000
Handler = Callable[[AdminRequest], AdminResponse]


def admin_router(
    pm: pluggy.PluginManager, *, require_admin: Callable[..., Any], require_csrf: Callable[..., Any]
) -> APIRouter:
    """An APIRouter with every route the plugins register through ``skypanel_register_admin_routes``."""
    router = APIRouter()

    def register(method: str, path: str, handler: Handler) -> None:
        guards = [Depends(require_admin)]
        if method.upper() in STATE_CHANGING:
            guards.append(Depends(require_csrf))
        _add(router, method, path, handler, guards, strict_json=True)

    pm.hook.skypanel_register_admin_routes(register=register)
    return router


def public_router(pm: pluggy.PluginManager) -> APIRouter:
    """An APIRouter with the routes plugins register through ``skypanel_register_public_routes``."""
    router = APIRouter()
    pm.hook.skypanel_register_public_routes(
        register=lambda method, path, handler: _add(
            router, method, path, handler, [], strict_json=False
        )
    )
    return router


def _add(
    router: APIRouter,
    method: str,
    path: str,
    handler: Handler,
    guards: Sequence[Any],
    *,
    strict_json: bool,
) -> None:
    router.add_api_route(
        path,
        _endpoint(handler, strict_json),
        methods=[method.upper()],
        dependencies=list(guards),
        include_in_schema=False,
    )


def _invalid_body(message: str) -> JSONResponse:
    return JSONResponse(
        {"success": False, "message": "Invalid request", "details": {"body": message}},
        status_code=422,
    )


def _endpoint(handler: Handler, strict_json: bool) -> Callable[[Request], Any]:
    """An endpoint calling ``handler``; with ``strict_json`` a body that is not JSON is 422,
    without (public routes, which check signatures first) it reaches the handler as bytes."""

    async def endpoint(request: Request) -> JSONResponse:
        body: Any = None
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _invalid_body(f"must be at most {MAX_BODY} bytes")
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                if strict_json:
                    return _invalid_body("must be JSON")
        admin_request = AdminRequest(
            query=dict(request.query_params),
            body=body,
            method=request.method,
            url=str(request.url),
            headers={k.lower(): v for k, v in request.headers.items()},
            raw_body=raw,
        )
        response = await run_in_threadpool(handler, admin_request)
        return JSONResponse(response.body, status_code=response.status)

    return endpoint
