"""One pace for every CRM search a process makes.

HubSpot's CRM search has a limit of its own, a few requests a second per token, below the
general rate limit. The ticket poller and the conversation poller both search; each kept
its own spacing, so one's last searches and the other's first could land in the same
second over the limit. They take turns here instead.
"""

from __future__ import annotations

import threading

from skypanel_hubspot_plugin.common import clock


class SearchTurns:
    """When the process last searched; a search waits ``spacing_s`` after the last one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")

    def wait_s(self, spacing_s: float) -> float:
        """Seconds before the next search may start: never more than ``spacing_s``, even
        when the clock was moved back (a test's clock undone) since the last search."""
        with self._lock:
            return min(spacing_s, max(0.0, self._last + spacing_s - clock.monotonic()))

    def take(self) -> None:
        """Marks a search as starting now."""
        with self._lock:
            self._last = clock.monotonic()


#: The process's turns: every poller searches through it.
SEARCH_TURNS = SearchTurns()
