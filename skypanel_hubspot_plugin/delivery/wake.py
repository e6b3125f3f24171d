"""Waking idle workers when an event is recorded, instead of polling the panel's database.

Two signals, both sent on the event hook's path:

- in the process: every idle worker of this process is woken at once (the host may not
  have committed yet, so a woken worker that finds nothing looks again a few times, soon);
- on PostgreSQL: ``pg_notify`` in the host's own transaction, so workers in any process
  that LISTEN hear of the row exactly when it commits, and never of one rolled back.

Without either (a worker process on SQLite), an idle worker falls back to a slow poll.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, func, select, text

log = logging.getLogger(__name__)

CHANNEL = "skypanel_hubspot_outbox"
_LISTEN = text(f"LISTEN {CHANNEL}")
_NOTIFY = select(func.pg_notify(CHANNEL, ""))

_waiting: weakref.WeakSet[threading.Event] = weakref.WeakSet()
_waiting_lock = threading.Lock()


def recorded(engine: Engine, session: Any) -> None:
    """Tells idle workers a row was written; ``session`` is the writer's transaction."""
    if engine.dialect.name == "postgresql":
        session.execute(_NOTIFY)  # delivered at commit, dropped on rollback
    with _waiting_lock:
        waiting = list(_waiting)
    for event in waiting:
        event.set()


class Waker:
    """One worker's way to sleep until woken, a deadline passes, or it is told to stop."""

    def __init__(self, engine: Engine, stop: threading.Event) -> None:
        self.engine = engine
        self.stop = stop
        self._event = threading.Event()
        with _waiting_lock:
            _waiting.add(self._event)
        self._listener: Any = None
        self._listening = engine.dialect.name == "postgresql"

    def wait(self, timeout: float) -> bool:
        """Sleeps up to ``timeout`` seconds; True when woken by a recorded event."""
        if self._listening and self._listen():
            return self._wait_listening(timeout)
        woken = self._event.wait(timeout) and not self.stop.is_set()
        self._event.clear()
        return woken

    def close(self) -> None:
        with _waiting_lock:
            _waiting.discard(self._event)
        self._event.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _listen(self) -> bool:
        if self._listener is not None:
            return True
        try:
            pooled = self.engine.raw_connection()
            pooled.detach()  # kept for LISTEN: never handed back to the pool in that state
            connection = pooled.driver_connection
            assert connection is not None
            connection.autocommit = True
            connection.execute(str(_LISTEN))
            self._listener = connection
            return True
        except Exception as exc:  # the database may be briefly unusable: poll meanwhile
            log.warning("HubSpot worker cannot LISTEN for new events (%s); polling", exc)
            return False

    def _wait_listening(self, timeout: float) -> bool:
        remaining = timeout
        try:
            while remaining > 0 and not self.stop.is_set() and not self._event.is_set():
                slice_s = min(remaining, 0.5)  # short slices: a stop is seen within 0.5 s
                for _ in self._listener.notifies(timeout=slice_s, stop_after=1):
                    return True
                remaining -= slice_s
        except Exception as exc:
            log.warning("HubSpot worker lost its LISTEN connection (%s); polling", exc)
            self._listener = None
            return False
        woken = self._event.is_set() and not self.stop.is_set()
        self._event.clear()
        return woken
