"""Where a delivery run's time goes, for ``sync-contacts`` and the benchmarks to print."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

READING = "reading users"
QUEUEING = "queueing"
CLAIMING = "claiming rows"
RATE_LIMIT = "waiting for the rate limit"
HUBSPOT = "HubSpot"
SETTLING = "settling rows"


class Timings:
    """Seconds spent per phase, summed over a run and over the threads that share it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - started)

    def add(self, phase: str, seconds: float) -> None:
        with self._lock:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def summary(self) -> str:
        order = (READING, QUEUEING, CLAIMING, RATE_LIMIT, HUBSPOT, SETTLING)
        parts = [f"{p} {self.seconds[p]:.1f} s" for p in order if p in self.seconds]
        return ", ".join(parts) or "nothing measured"
