"""The panel's test set-up: the HubSpot test kit on the panel's own application.

The kit's ``hubspot`` fixture starts the plugin for each test against a fresh fake
HubSpot; the three fixtures below put it on this panel: its plugin manager (with the
panel's hook implementations), its user lister, and its app, whose own start-up the kit
keeps on the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pluggy
import pytest
from example_panel.app import ADMIN_TOKEN_ENV, create_app, panel_plugin_manager
from example_panel.hubspot_hooks import users_lister
from sqlalchemy import Engine
from starlette.testclient import TestClient

from skypanel_hubspot_plugin.testing import HubSpotKit

from .helpers import ADMIN


@pytest.fixture
def skypanel_plugin_manager() -> pluggy.PluginManager:
    return panel_plugin_manager()


@pytest.fixture
def skypanel_host(skypanel_engine: Engine) -> dict[str, Any]:
    return {"list_users": users_lister(skypanel_engine)}


@pytest.fixture
def panel(hubspot: HubSpotKit, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The panel's app, started as in production (its lifespan fires skypanel_startup)."""
    monkeypatch.setenv(ADMIN_TOKEN_ENV, ADMIN["X-Admin-Token"])
    app = create_app(hubspot.engine, hubspot.plugin_manager)
    hubspot.deliver_webhooks_to(app)
    with TestClient(app) as client:
        yield client
