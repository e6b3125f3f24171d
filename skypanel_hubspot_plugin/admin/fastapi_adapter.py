"""Mounting the plugins' routes in a FastAPI app (``pip install skypanel-hubspot-plugin[fastapi]``).

The host keeps authority: it passes ``require_admin`` (run before every admin route) and
``require_csrf`` (run before every state-changing one) as FastAPI dependencies that raise
``HTTPException(401/403)`` for a caller it refuses. Handlers stay framework-neutral and
run in the threadpool, since they wait on the database and on HubSpot.

    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    app.include_router(public_router(pm))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pluggy
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from skypanel_hubspot_plugin.admin.responses import before_body_check
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_body import parse_json
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

log = logging.getLogger(__name__)

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


def _refusal(status: int, message: str, field: str, problem: str) -> JSONResponse:
    return JSONResponse(
        {"success": False, "message": message, "details": {field: problem}}, status_code=status
    )


def _invalid_body(problem: str) -> JSONResponse:
    return _refusal(422, "Invalid request", "body", problem)


def _too_large() -> JSONResponse:
    return _refusal(413, "Request body too large", "body", f"must be at most {MAX_BODY} bytes")


async def _read_body(request: Request) -> bytes | None:
    """The body, read a chunk at a time and never more than ``MAX_BODY + 1`` bytes of it;
    None as soon as it is larger (a declared Content-Length over the limit is not read at all)."""
    declared = request.headers.get("content-length", "")
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 12 or int(declared) > MAX_BODY)
    ):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None  # stop reading: the rest stays in the socket, never in memory
        chunks.append(chunk)
    return b"".join(chunks)


def _endpoint(handler: Handler, strict_json: bool) -> Callable[[Request], Any]:
    """An endpoint calling ``handler``; with ``strict_json`` a body that is not JSON is 422,
    without (public routes, which check signatures first) it reaches the handler as bytes.

    A route with a before-body check (the webhook's signature headers) has it run first, so
    a request it refuses has none of its body read; any body over ``MAX_BODY`` is 413."""
    before_body = before_body_check(handler)

    async def endpoint(request: Request) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query_params)
        if before_body is not None:
            head = AdminRequest(
                query=query, method=request.method, url=str(request.url), headers=headers
            )
            refused = await run_in_threadpool(before_body, head)
            if refused is not None:
                return JSONResponse(refused.body, status_code=refused.status)
        raw = await _read_body(request)
        if raw is None:
            return _too_large()
        body: Any = None
        if raw.strip():
            try:
                body = parse_json(raw)
            except InvalidInput as exc:
                if strict_json:
                    log.info("Admin request refused: %s", exc)
                    return _invalid_body(exc.errors["body"])
        admin_request = AdminRequest(
            query=query,
            body=body,
            method=request.method,
            url=str(request.url),
            headers=headers,
            raw_body=raw,
        )
        response = await run_in_threadpool(handler, admin_request)
        return JSONResponse(response.body, status_code=response.status)

    return endpoint
