"""Mounting the plugins' admin routes in a FastAPI app (``pip install skypanel-hubspot-plugin[fastapi]``).

The host keeps authority: it passes ``require_admin`` (run before every admin route) and
``require_csrf`` (run before every state-changing one) as FastAPI dependencies that raise
``HTTPException(401/403)`` for a caller it refuses. Handlers stay framework-neutral.

    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pluggy
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .payloads import AdminRequest, AdminResponse

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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
        router.add_api_route(
            path,
            _endpoint(handler),
            methods=[method.upper()],
            dependencies=guards,
            include_in_schema=False,
        )

    pm.hook.skypanel_register_admin_routes(register=register)
    return router


def _endpoint(handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        body: Any = None
        raw = await request.body()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return JSONResponse(
                    {
                        "success": False,
                        "message": "Invalid request",
                        "details": {"body": "must be JSON"},
                    },
                    status_code=422,
                )
        response = handler(AdminRequest(query=dict(request.query_params), body=body))
        return JSONResponse(response.body, status_code=response.status)

    return endpoint
