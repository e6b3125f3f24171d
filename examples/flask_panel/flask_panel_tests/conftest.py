"""The panel's test set-up: the HubSpot test kit on the panel's own Flask application.

The kit's ``hubspot`` fixture starts the plugin for each test against a fresh fake
HubSpot; the fixtures below put it on this panel: its database (the app's own
Flask-SQLAlchemy engine), its plugin manager (with the panel's hook implementations) and
its user lister. The app's first request starts the plugin as in production; the kit
keeps that start on the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_panel.app import create_app, panel_plugin_manager
from flask_panel.hubspot_hooks import users_lister
from flask_panel.models import Customer, db
from sqlalchemy import Engine

from skypanel_hubspot_plugin.testing import HubSpotKit


@pytest.fixture
def skypanel_plugin_manager() -> pluggy.PluginManager:
    return panel_plugin_manager()


@pytest.fixture
def app(tmp_path: Path, skypanel_plugin_manager: pluggy.PluginManager) -> Flask:
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/panel.sqlite3", "TESTING": True},
        skypanel_plugin_manager,
    )


@pytest.fixture
def skypanel_engine(app: Flask) -> Iterator[Engine]:
    with app.app_context():
        engine: Engine = db.engine
    yield engine


@pytest.fixture
def skypanel_host(skypanel_engine: Engine) -> dict[str, Any]:
    return {"list_users": users_lister(skypanel_engine)}


@pytest.fixture
def panel(app: Flask, hubspot: HubSpotKit) -> FlaskClient:
    """A browser on the panel; HubSpot's webhooks reach the same app."""
    hubspot.deliver_webhooks_to(app)
    return app.test_client()


@pytest.fixture
def staff(app: Flask) -> None:
    with app.app_context():
        db.session.add(Customer(email="staff@example.com", name="Sam Staff", is_staff=True))
        db.session.commit()
