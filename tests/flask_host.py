"""A small Flask panel with Flask-SQLAlchemy, as a host writes one, for the adapter's tests.

``X-Role`` stands in for the host's login: absent is anonymous (401), ``customer`` is
logged in but no admin (403), ``admin`` passes. ``X-CSRF: ok`` stands in for its CSRF
token, unless the app uses Flask-WTF's CSRFProtect.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import Flask, abort, g, render_template_string, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.flask import HubSpot


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Account(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "flask_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]


def is_admin() -> bool:
    role = request.headers.get("X-Role")
    if role is None:
        abort(401)
    return role == "admin"


def csrf_ok() -> bool:
    return request.headers.get("X-CSRF") == "ok"


def create_app(
    database_url: str, secret_key: str, hubspot_url: str, *, csrf: str = "callable", **config: Any
) -> tuple[Flask, HubSpot]:
    """``csrf``: "callable" (the host's check), "flask-wtf" (CSRFProtect) or "none"."""
    app = Flask(__name__)
    app.config.update(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "flask-host-test",
            "SKYPANEL_HUBSPOT_SECRET_KEYS": [secret_key],
            "SKYPANEL_HUBSPOT_BASE_URL": hubspot_url,
            "SKYPANEL_HUBSPOT_RUN_WORKER": False,
            **config,
        }
    )
    db.init_app(app)
    if csrf == "flask-wtf":
        from flask_wtf.csrf import CSRFProtect, generate_csrf

        CSRFProtect(app)
        app.get("/csrf-token")(generate_csrf)  # what the panel's pages embed
    hubspot = HubSpot(
        app, require_admin=is_admin, csrf_check=csrf_ok if csrf == "callable" else None
    )
    with app.app_context():
        db.create_all()

    @app.post("/signup")
    def signup() -> tuple[str, int]:
        account = Account(email=request.form["email"])
        db.session.add(account)
        db.session.flush()
        hubspot.user_created(User(id=str(account.id), email=account.email))
        outcome = request.form.get("then", "commit")
        if outcome == "slow-commit":
            time.sleep(float(request.form["seconds"]))  # a request busy after the hook ran
        if outcome == "rollback":
            db.session.rollback()
            return "rolled back", 200
        if outcome == "raise":
            raise RuntimeError("the panel failed after the hook ran")
        db.session.commit()
        return str(account.id), 201

    @app.get("/page")
    def page() -> str:
        g.csp_nonce = secrets.token_urlsafe(16)
        return render_template_string(
            "<head>{{ hubspot_page_head() }}</head><body data-nonce='{{ g.csp_nonce }}'>"
            "{{ hubspot_form('contact') }}</body>"
        )

    return app, hubspot
