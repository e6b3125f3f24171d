"""What delivery needs from the plugin's runtime, named so delivery never imports it.

The runtime (one level up) satisfies this by its shape; delivery code and its tests may
pass anything else that does.
"""

from __future__ import annotations

from typing import Protocol

from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.hubspot.service import HubSpotService
from skypanel_hubspot_plugin.settings.model import HubSpotSettings


class DeliveryContext(Protocol):
    """The outbox, the current settings and a HubSpot service for the saved token."""

    @property
    def outbox(self) -> Outbox: ...

    def settings(self) -> HubSpotSettings: ...

    def service(self) -> HubSpotService: ...
