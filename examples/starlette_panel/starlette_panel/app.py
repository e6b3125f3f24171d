"""``create_app(engine)``: the panel's Starlette application.

Its lifespan fires ``skypanel_startup`` with the panel's engine and plugin manager (the
HubSpot address and the encryption key come from the environment). The plugin's admin
routes sit behind the panel's staff check and its CSRF check, two plain functions that
raise ``HTTPException``; a sign-up and a new ticket fire the plugin's event hooks inside
the panel's own transaction.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pluggy
from sqlalchemy import Engine, update
from sqlmodel import Session, SQLModel, col, select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from skypanel_hubspot_plugin import (
    HostContext,
    Ticket,
    TicketChange,
    User,
    hookimpl,
    plugin_manager,
)
from skypanel_hubspot_plugin.admin.starlette_adapter import admin_routes, public_routes

from .tables import Customer, SupportTicket


def user_payload(row: Customer) -> User:
    first, _, last = row.name.partition(" ")
    return User(id=str(row.id), email=row.email, first_name=first, last_name=last)


class PanelHooks:
    """A ticket HubSpot's agents change lands on the panel's ticket."""

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        if change.status and change.ticket_id.isdigit():
            session.execute(
                update(SupportTicket)
                .where(col(SupportTicket.id) == int(change.ticket_id))
                .values(status=change.status)
            )


def panel_plugin_manager() -> pluggy.PluginManager:
    pm = plugin_manager()
    pm.register(PanelHooks(), name="starlette-panel")
    return pm


def create_app(engine: Engine, pm: pluggy.PluginManager | None = None) -> Starlette:
    pm = pm or panel_plugin_manager()
    SQLModel.metadata.create_all(engine, tables=[Customer.__table__, SupportTicket.__table__])  # type: ignore[attr-defined]

    def viewer(request: Request) -> Customer | None:
        customer_id = request.session.get("customer_id")
        if customer_id is None:
            return None
        with Session(engine) as session:
            return session.get(Customer, customer_id)

    def require_staff(request: Request) -> None:
        customer = viewer(request)
        if customer is None:
            raise HTTPException(401, "Log in first")
        if not customer.is_staff:
            raise HTTPException(403, "Staff only")

    def require_csrf(request: Request) -> None:
        expected = request.session.get("csrf", "")
        sent = request.headers.get("X-CSRF-Token", "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise HTTPException(403, "CSRF token missing or wrong")

    def log_in(request: Request, customer: Customer) -> str:
        request.session.clear()
        request.session["customer_id"] = customer.id
        request.session["csrf"] = secrets.token_urlsafe(32)
        return str(request.session["csrf"])

    async def sign_up(request: Request) -> JSONResponse:
        form = await request.json()
        with Session(engine) as session:  # the panel's transaction, the event's too
            customer = Customer(email=form["email"], name=form.get("name", ""))
            session.add(customer)
            session.flush()
            pm.hook.skypanel_on_user_created(user=user_payload(customer), session=session)
            session.commit()
            return JSONResponse({"id": customer.id, "csrf": log_in(request, customer)}, 201)

    async def log_in_route(request: Request) -> JSONResponse:
        email = (await request.json())["email"]
        with Session(engine) as session:
            customer = session.exec(select(Customer).where(Customer.email == email)).first()
        if customer is None:
            raise HTTPException(401, "Unknown customer")
        return JSONResponse({"csrf": log_in(request, customer)})

    async def open_ticket(request: Request) -> JSONResponse:
        require_csrf(request)
        form = await request.json()
        with Session(engine) as session:
            customer = viewer(request)
            if customer is None:
                raise HTTPException(401, "Log in first")
            ticket = SupportTicket(customer_id=customer.id or 0, subject=form["subject"])
            session.add(ticket)
            session.flush()
            pm.hook.skypanel_on_ticket_created(
                ticket=Ticket(id=str(ticket.id), subject=ticket.subject),
                user=user_payload(customer),
                session=session,
            )
            session.commit()
            return JSONResponse({"id": ticket.id}, 201)

    async def show_ticket(request: Request) -> JSONResponse:
        with Session(engine) as session:
            ticket = session.get(SupportTicket, int(request.path_params["ticket_id"]))
            if ticket is None:
                raise HTTPException(404, "No such ticket")
            return JSONResponse({"id": ticket.id, "status": ticket.status})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pm.hook.skypanel_startup(host=HostContext(engine=engine, plugin_manager=pm))
        try:
            yield
        finally:
            pm.hook.skypanel_shutdown()

    return Starlette(
        routes=[
            *admin_routes(pm, require_admin=require_staff, require_csrf=require_csrf),
            *public_routes(pm),  # the chat config, HubSpot's webhooks
            Route("/signup", sign_up, methods=["POST"]),
            Route("/login", log_in_route, methods=["POST"]),
            Route("/tickets", open_ticket, methods=["POST"]),
            Route("/tickets/{ticket_id:int}", show_ticket),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=os.environ.get("PANEL_SECRET_KEY", secrets.token_urlsafe(32)),
                same_site="lax",
            )
        ],
        lifespan=lifespan,
    )
