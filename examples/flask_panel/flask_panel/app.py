"""``create_app(config)``: the panel's Flask application.

The HubSpot extension reads its settings from the app's config: the encryption keys
(``SKYPANEL_HUBSPOT_SECRET_KEYS``, else the environment's), the user lister for contact
backfills (``SKYPANEL_HUBSPOT_USERS``) and, for a sandbox, HubSpot's address
(``SKYPANEL_HUBSPOT_BASE_URL``). A sign-up and a new ticket are recorded for HubSpot in
``db.session``: they reach HubSpot once the panel commits, and never if it rolls back.
"""

from __future__ import annotations

import os
from typing import Any

import pluggy
from flask import Flask, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from skypanel_hubspot_plugin import plugin_manager
from skypanel_hubspot_plugin.flask import HubSpot

from . import security
from .hubspot_hooks import PanelHooks, ticket_payload, user_payload
from .models import Customer, SupportTicket, db

#: Promotion codes a sign-up may carry, and the credit each gives.
PROMOTIONS = {"WELCOME10": 10}


def panel_plugin_manager() -> pluggy.PluginManager:
    """The installed plugins (HubSpot among them) and the panel's own hook implementations."""
    pm = plugin_manager()
    pm.register(PanelHooks(), name="flask-panel")
    return pm


def create_app(
    config: dict[str, Any] | None = None, pm: pluggy.PluginManager | None = None
) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("PANEL_SECRET_KEY", "change-me"),
        SQLALCHEMY_DATABASE_URI=os.environ.get("PANEL_DATABASE_URL", "sqlite:///panel.sqlite3"),
        SKYPANEL_HUBSPOT_USERS="flask_panel.hubspot_hooks:users_lister",
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.update(config or {})
    db.init_app(app)
    hubspot = HubSpot(
        app,
        require_admin=security.is_staff,
        csrf_check=security.csrf_ok,
        plugin_manager=pm or panel_plugin_manager(),
        viewer=lambda: user_payload(c) if (c := security.viewer()) else None,
    )
    app.before_request(security.new_csp_nonce)
    app.after_request(security.content_security_policy)
    with app.app_context():
        db.create_all()

    @app.get("/")
    def home() -> ResponseReturnValue:
        return render_template("home.html", customer=security.viewer())

    @app.post("/signup")
    def sign_up() -> ResponseReturnValue:
        form = request.get_json(force=True)
        customer = Customer(email=form["email"], name=form.get("name", ""))
        db.session.add(customer)
        db.session.flush()  # the id HubSpot's contact is keyed on
        hubspot.user_created(user_payload(customer))  # in db.session, like the row
        code = form.get("promo_code")
        if code is not None and code not in PROMOTIONS:
            db.session.rollback()  # no customer, so no contact either
            return jsonify(error=f"unknown promotion code {code!r}"), 400
        customer.credit = PROMOTIONS.get(code or "", 0)
        db.session.commit()
        return jsonify(id=customer.id, csrf=security.log_in(customer)), 201

    @app.post("/login")
    def log_in() -> ResponseReturnValue:
        email = request.get_json(force=True)["email"]
        customer = db.session.scalar(db.select(Customer).filter_by(email=email))
        if customer is None:
            abort(401)
        return jsonify(csrf=security.log_in(customer))

    @app.post("/tickets")
    def open_ticket() -> ResponseReturnValue:
        customer = security.viewer()
        if customer is None:
            abort(401)
        if not security.csrf_ok():
            abort(403)
        form = request.get_json(force=True)
        ticket = SupportTicket(
            customer_id=customer.id, subject=form["subject"], body=form.get("body", "")
        )
        db.session.add(ticket)
        db.session.flush()
        hubspot.ticket_created(ticket_payload(ticket), user_payload(customer))
        db.session.commit()
        return jsonify(id=ticket.id), 201

    @app.get("/tickets/<int:ticket_id>")
    def show_ticket(ticket_id: int) -> ResponseReturnValue:
        ticket = db.get_or_404(SupportTicket, ticket_id)
        return jsonify(id=ticket.id, subject=ticket.subject, status=ticket.status)

    return app
