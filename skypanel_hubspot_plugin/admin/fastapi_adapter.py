"""Mounting the plugins' routes in a FastAPI app (``pip install skypanel-hubspot-plugin[fastapi]``).

The host keeps authority: it passes ``require_admin`` (run before every admin route) and
``require_csrf`` (run before every state-changing one) as FastAPI dependencies that raise
``HTTPException(401/403)`` for a caller it refuses. The endpoints are the Starlette
adapter's (:mod:`.starlette_adapter`): the same body limit, JSON parsing and before-body
checks; handlers stay framework-neutral and run in the threadpool.

    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    app.include_router(public_router(pm))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pluggy
from fastapi import APIRouter, Depends

from skypanel_hubspot_plugin.admin.request_body import MAX_BODY, STATE_CHANGING
from skypanel_hubspot_plugin.admin.starlette_adapter import (
    Identify,
    authenticated_user,
    endpoint,
)
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

Handler = Callable[[AdminRequest], AdminResponse]


def admin_router(
    pm: pluggy.PluginManager,
    *,
    require_admin: Callable[..., Any],
    require_csrf: Callable[..., Any],
    admin_identity: Identify | None = None,
) -> APIRouter:
    """An APIRouter with every route the plugins register through ``skypanel_register_admin_routes``.

    ``admin_identity(request)`` names the admin making a request, for the audit trail
    (default: Starlette's ``request.user``, when an ``AuthenticationMiddleware`` set one)."""
    router = APIRouter()
    identify = admin_identity or authenticated_user

    def register(method: str, path: str, handler: Handler) -> None:
        guards = [Depends(require_admin)]
        if method.upper() in STATE_CHANGING:
            guards.append(Depends(require_csrf))
        _add(router, method, path, handler, guards, strict_json=True, identify=identify)

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
    identify: Identify | None = None,
) -> None:
    router.add_api_route(
        path,
        endpoint(handler, strict_json=strict_json, identify=identify),
        methods=[method.upper()],
        dependencies=list(guards),
        include_in_schema=False,
    )


__all__ = ["MAX_BODY", "admin_router", "public_router"]
