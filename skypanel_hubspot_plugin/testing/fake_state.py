"""What every API area of the fake HubSpot shares: its tokens, its CRM and its lock.

Each area is a mixin of :class:`~.fake_hubspot.FakeHubSpot` that declares its routes in a
``_<area>_routes`` method; the state it reads is declared here, once, so an area added later
(a new object type, a new API) sees the same names and types.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .fake_store import CrmStore
from .fake_webhooks import Subscription


@dataclass
class Token:
    """An access token the fake knows: what it may do, for which portal."""

    scopes: frozenset[str]
    portal_id: int
    expired: bool
    #: "private-app" (a private app's access token) or "oauth" (an OAuth access token).
    kind: str = "private-app"


class FakeState:
    """The attributes :class:`~.fake_hubspot.FakeHubSpot` sets up; handlers run under ``_lock``."""

    portal_id: int
    region: str
    search_lag_s: float
    search_rate_limit: int | None
    visitor_identification: bool
    visitor_tokens: list[tuple[str, str]]
    _lock: threading.RLock
    _store: CrmStore
    _tokens: dict[str, Token]
    _search_hits: list[float]
    #: Each token's searches of the last second (keyed by the token's identity).
    _search_windows: dict[int, deque[float]]
    _form_submissions: list[dict[str, Any]]
    _webhooks: Subscription | None

    def _shape(self, obj: dict[str, Any], new: bool | None = None) -> dict[str, Any]:
        """A record as HubSpot's answers show it (``new`` on an upsert's results)."""
        out = self._store.snapshot(obj)
        if new is not None:
            out["new"] = new
        return out
