"""``create_app(engine)``: the panel's FastAPI application.

Its start-up fires ``skypanel_startup`` with the panel's engine, plugin manager and user
lister (the HubSpot address and the encryption key come from the environment:
``SKYPANEL_HUBSPOT_BASE_URL``, ``SKYPANEL_HUBSPOT_SECRET_KEYS``). A sign-up and a new
ticket fire the plugin's event hooks inside the panel's own transaction.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pluggy
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from skypanel_hubspot_plugin import HostContext, plugin_manager
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router, public_router

from .hubspot_hooks import PanelHooks, ticket_payload, user_payload, users_lister
from .tables import PanelTicket, PanelUser

ADMIN_TOKEN_ENV = "PANEL_ADMIN_TOKEN"


class SignUp(BaseModel):
    email: str
    name: str = ""


class NewTicket(BaseModel):
    user_id: int
    subject: str
    body: str = ""


def panel_plugin_manager() -> pluggy.PluginManager:
    """The installed plugins (HubSpot among them) and the panel's own hook implementations."""
    pm = plugin_manager()
    pm.register(PanelHooks(), name="example-panel")
    return pm


def require_admin(x_admin_token: str = Header(default="")) -> None:
    expected = os.environ.get(ADMIN_TOKEN_ENV, "")
    if not expected or not hmac.compare_digest(x_admin_token, expected):
        raise HTTPException(401, "Admins only")


def require_csrf() -> None:
    """The admin API is called with a header token, never a cookie: nothing to forge."""


def create_app(engine: Engine, pm: pluggy.PluginManager | None = None) -> FastAPI:
    pm = pm or panel_plugin_manager()
    SQLModel.metadata.create_all(engine, tables=[PanelUser.__table__, PanelTicket.__table__])  # type: ignore[attr-defined]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pm.hook.skypanel_startup(
            host=HostContext(engine=engine, plugin_manager=pm, list_users=users_lister(engine))
        )
        try:
            yield
        finally:
            pm.hook.skypanel_shutdown()

    app = FastAPI(lifespan=lifespan)
    app.include_router(admin_router(pm, require_admin=require_admin, require_csrf=require_csrf))
    app.include_router(public_router(pm))  # HubSpot's webhooks

    @app.post("/signup", status_code=201)
    def sign_up(form: SignUp) -> dict[str, object]:
        with Session(engine) as session:
            user = PanelUser(email=form.email, name=form.name)
            session.add(user)
            session.flush()
            pm.hook.skypanel_on_user_created(user=user_payload(user), session=session)
            session.commit()
            return {"id": user.id}

    @app.post("/tickets", status_code=201)
    def open_ticket(form: NewTicket) -> dict[str, object]:
        with Session(engine) as session:
            user = session.get(PanelUser, form.user_id)
            if user is None:
                raise HTTPException(404, "No such user")
            ticket = PanelTicket(user_id=form.user_id, subject=form.subject, body=form.body)
            session.add(ticket)
            session.flush()
            pm.hook.skypanel_on_ticket_created(
                ticket=ticket_payload(ticket), user=user_payload(user), session=session
            )
            session.commit()
            return {"id": ticket.id}

    @app.get("/tickets/{ticket_id}")
    def show_ticket(ticket_id: int) -> dict[str, object]:
        with Session(engine) as session:
            ticket = session.get(PanelTicket, ticket_id)
            if ticket is None:
                raise HTTPException(404, "No such ticket")
            return {"id": ticket.id, "subject": ticket.subject, "status": ticket.status}

    return app
