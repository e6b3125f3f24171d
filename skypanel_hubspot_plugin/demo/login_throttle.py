"""Failed admin logins slow the next ones down, per username and per client address.

After ``FREE_FAILURES`` wrong passwords in a row for one username, or from one address,
every login for that username or from that address is refused with 429, right password
or not, for a window that doubles with each further failure (30 s, 1 min, 2 min … up to
15 min). A person who mistyped a few times does not notice; a script guessing passwords
gets a handful of tries an hour. A successful login clears both counts; a count with no
failure for ``FORGET_AFTER_S`` starts again from zero.

The clock is the demo's (``DemoConfig.clock``), so a test moves it instead of sleeping.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_LOCK_S = 30.0
MAX_LOCK_S = 15 * 60.0
FORGET_AFTER_S = 60 * 60.0
#: Usernames come from whoever posts the form: the table of counts stays bounded.
MAX_TRACKED = 10_000
USERNAME_MAX = 254


@dataclass
class _Failures:
    count: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins by username and by address; thread-safe (sync routes run in a pool)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, username: str, address: str) -> int | None:
        """Whole seconds until a login for ``username`` from ``address`` is heard; None: now."""
        now = self._clock()
        with self._lock:
            until = max(
                (
                    record.locked_until
                    for key in _keys(username, address)
                    if (record := self._failures.get(key)) is not None
                ),
                default=0.0,
            )
        return math.ceil(until - now) if until > now else None

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in _keys(username, address):
                record = self._failures.pop(key, None) or _Failures()
                if now - record.last_failure > FORGET_AFTER_S:
                    record = _Failures()
                record.count += 1
                record.last_failure = now
                if record.count >= FREE_FAILURES:
                    doublings = min(record.count - FREE_FAILURES, 10)  # 30 s · 2**5 > max
                    record.locked_until = now + min(FIRST_LOCK_S * 2**doublings, MAX_LOCK_S)
                self._failures[key] = record  # the most recent at the end
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            for key in _keys(username, address):
                self._failures.pop(key, None)


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"user:{username.strip().casefold()[:USERNAME_MAX]}", f"address:{address}"
