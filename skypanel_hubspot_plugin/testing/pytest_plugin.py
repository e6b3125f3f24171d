"""The ``fake_hubspot`` pytest fixture, registered through the ``pytest11`` entry point."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_hubspot import FakeHubSpot


@pytest.fixture
def fake_hubspot() -> Iterator[FakeHubSpot]:
    """A started fake HubSpot for one test; point the plugin at ``fake_hubspot.base_url``."""
    with FakeHubSpot() as hubspot:
        yield hubspot
