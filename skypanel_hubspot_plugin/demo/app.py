"""``create_app(config)``: the demo panel as a FastAPI application.

Start-up creates the panel's tables, then fires ``skypanel_startup`` with the panel's
engine, encryption keys, HubSpot address and a way to list its users; shut-down fires
``skypanel_shutdown``. The plugin's admin API is mounted behind the panel's own admin and
CSRF checks, its public API as is.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import create_engine
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from skypanel_hubspot_plugin import HostContext, plugin_manager
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router, public_router
from skypanel_hubspot_plugin.demo import (
    admin_pages,
    customer_pages,
    sandbox_conversation,
    sandbox_pages,
    staff_pages,
    ticket_pages,
)
from skypanel_hubspot_plugin.page.form_embed import jinja_globals

from .auth import admin_name, require_admin
from .config import DemoConfig
from .csp import add_content_security_policy
from .csrf import require_csrf
from .encryption_key import secret_keys
from .host import DemoHost, render, templates
from .live_sessions import LiveSessions
from .login_throttle import LoginThrottle
from .panel_tables import create_panel_tables
from .panel_users import users_lister
from .sample_customers import add_sample_customers
from .sandbox_defaults import apply_defaults, unset_defaults
from .ticket_sync import TicketSync

SESSION_COOKIE = "skypanel_demo_session"


def create_app(config: DemoConfig) -> FastAPI:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(config.database_url)
    pm = plugin_manager()
    pm.register(TicketSync(), name="demo-panel-tickets")  # the host's own hook implementations
    keys = config.secret_keys or secret_keys(config.data_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        create_panel_tables(engine)
        add_sample_customers(engine, config.sample_customers)
        defaults = unset_defaults(engine) if config.sandbox is not None else {}
        pm.hook.skypanel_startup(
            host=HostContext(
                engine=engine,
                secret_keys=keys,
                hubspot_base_url=config.hubspot_base_url,
                settings_poll_interval=config.settings_poll_interval,
                list_users=users_lister(engine),
                plugin_manager=pm,
                public_base_url=config.public_base_url,
            )
        )
        apply_defaults(defaults)
        try:
            yield
        finally:
            pm.hook.skypanel_shutdown()
            engine.dispose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.live_sessions = LiveSessions()
    app.state.login_throttle = LoginThrottle(config.clock)
    app.state.host = DemoHost(pm=pm, engine=engine, config=config, templates=templates())
    # {{ hubspot_form("contact", page) }} in any template: the plugin's embed of that form
    app.state.host.templates.env.globals.update(jinja_globals(pm))
    app.middleware("http")(add_content_security_policy)
    # A new signing key per run: restarting the demo logs everybody out, which is fine here.
    app.add_middleware(
        SessionMiddleware,
        secret_key=secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        same_site="strict",
        https_only=False,  # served on 127.0.0.1 over plain HTTP
    )
    app.add_exception_handler(HTTPException, _http_error)
    app.mount("/static", StaticFiles(directory=Path(str(files(__package__) / "static"))))
    app.include_router(
        admin_router(
            pm, require_admin=require_admin, require_csrf=require_csrf, admin_identity=admin_name
        )
    )
    app.include_router(public_router(pm))
    app.include_router(customer_pages.router)
    app.include_router(ticket_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(sandbox_pages.router)
    app.include_router(sandbox_conversation.router)
    app.include_router(staff_pages.router)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    # JSON in the plugin API's error format for scripts, a page for people.
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        body = {"success": False, "message": exc.detail, "details": None}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    context = {"status": exc.status_code, "message": exc.detail}
    return render(request, "error.html", context, status_code=exc.status_code)
