"""The plugin's clock: the wall clock, which a test can move forward without sleeping.

Everything that decides *when* (a retry's due time, the next ticket poll, the rate
budget's window, HubSpot's daily-limit pause) reads this module instead of ``time`` and
``datetime`` directly, so the test kit's ``advance(seconds)`` makes them come due at once.
In production nothing moves it and it is the system clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

_offset = 0.0
_lock = threading.Lock()


def now() -> float:
    """Epoch seconds."""
    return time.time() + _offset


def utcnow() -> datetime:
    """Now as an aware UTC datetime."""
    return datetime.now(UTC) + timedelta(seconds=_offset)


def monotonic() -> float:
    """A monotonic reading in seconds, moved forward by the same offset."""
    return time.monotonic() + _offset


def advance(seconds: float) -> None:
    """Moves the clock ``seconds`` forward (never back: due times only ever come closer)."""
    global _offset
    if seconds < 0:
        raise ValueError(f"seconds must be 0 or more, not {seconds}")
    with _lock:
        _offset += seconds


def offset() -> float:
    """How far the clock has been moved, in seconds."""
    return _offset


def reset() -> None:
    """Back to the system clock (the test kit does this when a test ends)."""
    global _offset
    with _lock:
        _offset = 0.0
