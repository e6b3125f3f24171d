"""What one run of the demo panel is given: where its data lives, the admin password, HubSpot."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from skypanel_hubspot_plugin.testing import FakeHubSpot

ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class DemoConfig:
    """The demo panel's configuration; ``__main__`` builds it from the command line.

    ``hubspot_base_url`` is where the plugin talks to HubSpot (the fake HubSpot's address,
    or ``https://api.hubapi.com``); None leaves it to the plugin's own default.
    ``secret_keys`` are the plugin's Fernet keys; when empty, ``encryption_key`` finds them.
    ``sample_customers`` are added to an empty panel at start, for the backfill to sync.
    ``sandbox`` is the fake HubSpot when the panel runs against one: its page lets the
    admin change tickets "in HubSpot" and watch the change come back through the webhook.
    ``public_base_url`` is the panel's own address, which HubSpot's webhooks are signed for.
    ``clock`` (seconds, only ever compared) times the login throttle; tests move their own.
    """

    data_dir: Path
    admin_password: str = field(repr=False)
    hubspot_base_url: str | None = None
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    settings_poll_interval: float = 2.0
    sample_customers: int = 0
    sandbox: FakeHubSpot | None = field(default=None, repr=False, compare=False)
    public_base_url: str | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'panel.sqlite3'}"
