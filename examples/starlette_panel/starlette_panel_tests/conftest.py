"""The kit on the panel's Starlette app: its plugin manager, and its lifespan's start-up,
which the kit keeps on the fake HubSpot."""

from __future__ import annotations

from collections.abc import Iterator

import pluggy
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient
from starlette_panel.app import create_app, panel_plugin_manager
from starlette_panel.tables import Customer

from skypanel_hubspot_plugin.testing import HubSpotKit


@pytest.fixture
def skypanel_plugin_manager() -> pluggy.PluginManager:
    return panel_plugin_manager()


@pytest.fixture
def panel(hubspot: HubSpotKit) -> Iterator[TestClient]:
    app = create_app(hubspot.engine, hubspot.plugin_manager)
    hubspot.deliver_webhooks_to(app)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def staff(panel: TestClient, skypanel_engine: Engine) -> None:
    with Session(skypanel_engine) as session:
        session.add(Customer(email="staff@example.com", name="Sam Staff", is_staff=True))
        session.commit()
