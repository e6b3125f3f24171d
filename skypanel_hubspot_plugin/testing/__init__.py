"""The host developer's test kit and the fake HubSpot.

With pytest (installing the package registers the fixtures): take ``hubspot``, a
:class:`HubSpotKit` with the plugin started for the test against a fresh fake HubSpot;
override ``skypanel_engine``, ``skypanel_plugin_manager`` and ``skypanel_host`` to put it
on the panel's own application. Anywhere else: ``with hubspot_kit(engine=...,
plugin_manager=pm) as kit:``. :class:`FakeHubSpot` alone is the ``fake_hubspot`` fixture.
"""

from .fake_hubspot import (
    ALL_SCOPES,
    FAKE_PORTAL_ID,
    FAKE_TOKEN,
    FakeHubSpot,
    RecordedRequest,
)
from .fake_webhooks import FAKE_APP_SECRET
from .kit import HubSpotKit
from .kit_start import hubspot_kit
from .outbox_entries import DeliveryParked, KitRefusal, OutboxEntry, WebhookRefused

#: Forms the demo's sandbox defines in the fake HubSpot (a contact form and a ticket form).
FAKE_CONTACT_FORM_ID = "5b1c2d3e-4f50-4a61-8b72-c3d4e5f60718"
FAKE_TICKET_FORM_ID = "6c2d3e4f-5061-4b72-9c83-d4e5f6071829"

__all__ = [
    "ALL_SCOPES",
    "FAKE_APP_SECRET",
    "FAKE_CONTACT_FORM_ID",
    "FAKE_PORTAL_ID",
    "FAKE_TICKET_FORM_ID",
    "FAKE_TOKEN",
    "DeliveryParked",
    "FakeHubSpot",
    "HubSpotKit",
    "KitRefusal",
    "OutboxEntry",
    "RecordedRequest",
    "WebhookRefused",
    "hubspot_kit",
]
