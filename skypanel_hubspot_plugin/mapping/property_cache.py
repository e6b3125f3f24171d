"""The portal's property lists, briefly cached for the admin's property-map checks.

The list rarely changes and one portal has hundreds of properties, so it is kept for
:data:`CACHE_TTL_S` seconds per object type and token; a check that finds a property
missing from a cached list asks once more, so a property the admin has just created in
HubSpot is found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo
from skypanel_hubspot_plugin.hubspot.service import HubSpotService

CACHE_TTL_S = 60.0


@dataclass(frozen=True)
class _Entry:
    service: HubSpotService
    fetched_at: float
    properties: Mapping[str, PropertyInfo]


class PropertyCache:
    """Each object type's property list for one service (one token), for ``ttl_s`` seconds."""

    def __init__(
        self, ttl_s: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def get(
        self, service: HubSpotService, object_type: str, *, fresh: bool = False
    ) -> tuple[Mapping[str, PropertyInfo], bool]:
        """The properties by name, and whether they came from the cache. Raises HubSpotError."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(object_type)
        # The identity check (the entry holds the service) keeps one token's list from
        # answering for another's: the runtime builds a new service when the token changes.
        if (
            not fresh
            and entry is not None
            and entry.service is service
            and now - entry.fetched_at < self.ttl_s
        ):
            return entry.properties, True
        properties = {p.name: p for p in service.properties(object_type)}
        with self._lock:
            self._entries[object_type] = _Entry(service, now, properties)
        return properties, False

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The process's cache, shared by the admin routes.
CACHE = PropertyCache()
