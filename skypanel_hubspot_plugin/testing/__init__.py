"""Testing helpers for hosts and for this package: a fake HubSpot on loopback.

Import :class:`FakeHubSpot` or use the ``fake_hubspot`` pytest fixture, which installing
the package registers.
"""

from .fake_hubspot import (
    ALL_SCOPES,
    FAKE_PORTAL_ID,
    FAKE_TOKEN,
    FakeHubSpot,
    RecordedRequest,
)
from .fake_webhooks import FAKE_APP_SECRET

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
    "FakeHubSpot",
    "RecordedRequest",
]
