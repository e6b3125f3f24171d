"""The panel's test set-up: the HubSpot test kit on the panel's Django project.

Each test gets a fresh SQLite database (migrated), which both Django and the plugin use;
the kit's ``hubspot`` fixture starts the plugin on it through the adapter's plugin
manager (so the panel's ticket hook is registered), against a fresh fake HubSpot whose
signed webhooks reach the panel's WSGI app in process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import connections
from django.test import Client
from panel.hubspot_hooks import list_users
from sqlalchemy import Engine

from skypanel_hubspot_plugin.django import database, lifecycle
from skypanel_hubspot_plugin.testing import HubSpotKit


@pytest.fixture
def panel_database(tmp_path: Path, django_db_blocker: Any) -> Iterator[None]:
    """A new migrated database for this test (instead of pytest-django's shared one, so
    the plugin's tables start empty too)."""
    fresh = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "panel.sqlite3")}
    with django_db_blocker.unblock():
        connections["default"].close()
        del connections["default"]
        connections.settings = connections.configure_settings({"default": fresh})
        call_command("migrate", verbosity=0)
        yield
        lifecycle.stop()
        database.dispose()
        connections["default"].close()


@pytest.fixture
def skypanel_engine(panel_database: None) -> Engine:
    return database.plugin_engine("default")


@pytest.fixture
def skypanel_plugin_manager() -> pluggy.PluginManager:
    return lifecycle.plugin_manager()


@pytest.fixture
def skypanel_host() -> dict[str, Any]:
    return {"list_users": list_users}


@pytest.fixture
def panel(hubspot: HubSpotKit) -> Client:
    """The panel's test client; HubSpot's webhooks reach the same app in process."""
    hubspot.deliver_webhooks_to(WSGIHandler())
    return Client()


@pytest.fixture
def staff(panel_database: None) -> Client:
    from django.contrib.auth.models import User

    admin = User.objects.create_user(username="admin@example.com", is_staff=True)
    client = Client()
    client.force_login(admin)
    return client
