"""The test kit's pytest fixtures, registered through the ``pytest11`` entry point.

``hubspot`` is the plugin started for one test against a fresh fake HubSpot (a
:class:`~.kit.HubSpotKit`). It is built from three fixtures a host overrides in its
``conftest.py`` to put the kit on its own application:

- ``skypanel_engine``: the panel's SQLAlchemy engine (a temporary SQLite by default);
- ``skypanel_plugin_manager``: the panel's plugin manager, with its own hook
  implementations registered (``skypanel_hubspot_plugin.plugin_manager()`` by default);
- ``skypanel_host``: more HostContext fields, as a dict (``{"list_users": ...}``).

``fake_hubspot`` is the fake HubSpot alone, for tests that start nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from sqlalchemy import Engine

from skypanel_hubspot_plugin import plugin_manager

from .fake_hubspot import FakeHubSpot
from .kit import HubSpotKit
from .kit_start import hubspot_kit, scratch_engine


@pytest.fixture
def fake_hubspot() -> Iterator[FakeHubSpot]:
    """A started fake HubSpot for one test; point the plugin at ``fake_hubspot.base_url``."""
    with FakeHubSpot() as hubspot:
        yield hubspot


@pytest.fixture
def skypanel_engine(tmp_path: Path) -> Iterator[Engine]:
    """The panel's database for one test: override it to use the host's own engine."""
    engine = scratch_engine(f"{tmp_path}/panel.sqlite3")
    yield engine
    engine.dispose()


@pytest.fixture
def skypanel_plugin_manager() -> pluggy.PluginManager:
    """The panel's plugin manager: override it to register the host's hook implementations."""
    return plugin_manager()


@pytest.fixture
def skypanel_host() -> dict[str, Any]:
    """More HostContext fields for the kit's start-up (``list_users``, ``public_base_url``)."""
    return {}


@pytest.fixture
def hubspot(
    skypanel_engine: Engine,
    skypanel_plugin_manager: pluggy.PluginManager,
    skypanel_host: dict[str, Any],
) -> Iterator[HubSpotKit]:
    """The plugin started for this test on ``skypanel_engine``, enabled, against a fresh fake
    HubSpot, with no background worker: ``hubspot.drain()`` delivers, ``hubspot.poll()``
    polls, ``hubspot.advance(s)`` moves the clock, ``hubspot.configure(...)`` saves settings."""
    with hubspot_kit(
        engine=skypanel_engine, plugin_manager=skypanel_plugin_manager, **skypanel_host
    ) as kit:
        yield kit
