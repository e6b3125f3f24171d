"""Testing helpers for hosts and for this package: a fake HubSpot on loopback.

Import :class:`FakeHubSpot` or use the ``fake_hubspot`` pytest fixture, which installing
the package registers.
"""

from .fake_hubspot import ALL_SCOPES, FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot, RecordedRequest
from .fake_webhooks import FAKE_APP_SECRET

__all__ = [
    "ALL_SCOPES",
    "FAKE_APP_SECRET",
    "FAKE_PORTAL_ID",
    "FAKE_TOKEN",
    "FakeHubSpot",
    "RecordedRequest",
]
