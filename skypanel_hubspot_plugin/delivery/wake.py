"""Waking idle workers when an event is recorded, instead of polling the panel's database.

Two signals, both sent on the event hook's path:

- in the process: every idle worker of this process is woken when the writer's
  transaction commits (a worker woken early, where the commit cannot be watched, looks
  again a few times soon before sleeping long);
- on PostgreSQL: ``pg_notify`` in the host's own transaction, so workers in any process
  that LISTEN hear of the row exactly when it commits, and never of one rolled back. The
  outbox sends it in the statement that writes the row (:func:`notifying`): one round
  trip on the panel's request, not two.

Without either (a worker process on SQLite), an idle worker falls back to a slow poll.

Where the host's transaction is one the plugin cannot watch (a framework that commits on a
DB-API connection of its own, like Django's ``atomic()``), the adapter calls
:func:`wake_workers` once that commit is done.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Select, event
from sqlalchemy.orm import Session as OrmSession

from skypanel_hubspot_plugin.common import wakeup
from skypanel_hubspot_plugin.common.listen import SLICE_S, Listener, notify
from skypanel_hubspot_plugin.common.wakeup import wake_all

CHANNEL = "skypanel_hubspot_outbox"
_NOTIFY = notify(CHANNEL)

#: Set in the writer's ``info`` while its transaction holds a recorded row.
_RECORDED = "skypanel_hubspot_recorded"


def notifying(write: Insert) -> Select[Any]:
    """``write`` and PostgreSQL's NOTIFY as one statement (the write runs as a CTE, in full)."""
    return _NOTIFY.add_cte(write.cte("recorded"))


def recorded(engine: Engine, session: Any, *, notified: bool = False) -> None:
    """Tells idle workers a row was written; ``session`` is the writer's transaction.

    ``notified``: the write itself carried the NOTIFY (see :func:`notifying`).
    """
    if engine.dialect.name == "postgresql" and not notified:
        session.execute(_NOTIFY)  # delivered at commit, dropped on rollback
    if isinstance(session, OrmSession | Connection):
        session.info[_RECORDED] = True  # the commit wakes them (listeners below)
    else:
        wake_all()


# Listening on the classes, once: a listener added per session costs the panel's request
# more than the row itself. For any other commit these cost one dictionary lookup.
@event.listens_for(OrmSession, "after_commit")
@event.listens_for(Engine, "commit")
def _committed(writer: Any) -> None:
    if _flags(writer).pop(_RECORDED, False):
        wake_all()


@event.listens_for(OrmSession, "after_rollback")
@event.listens_for(Engine, "rollback")
def _rolled_back(writer: Any) -> None:
    _flags(writer).pop(_RECORDED, None)


def _flags(writer: Any) -> dict[Any, Any]:
    # An invalidated connection (its database connection lost mid-transaction) has no
    # ``info`` to read until rolled back, and nothing recorded on it was committed.
    if isinstance(writer, Connection) and writer.invalidated:
        return {}
    info: dict[Any, Any] = writer.info
    return info


def wake_workers() -> None:
    """Wakes this process's idle workers now, to look for newly committed events.

    Call it after your commit when you recorded events through a connection the plugin
    cannot watch (its SQLAlchemy ``commit`` event never fires: Django's ``atomic()``
    commits on Django's own connection), e.g. ``transaction.on_commit(wake_workers)``.
    Without it a worker in this process finds the event at its next idle poll (up to
    ``--idle`` seconds later). Calling it when nothing was recorded only costs the
    workers one look at the outbox. Workers in other processes are woken by PostgreSQL's
    NOTIFY, which rides on the same commit; on SQLite they poll.
    """
    wake_all()


class Waker:
    """One worker's way to sleep until woken, a deadline passes, or it is told to stop."""

    def __init__(self, engine: Engine, stop: threading.Event) -> None:
        self.engine = engine
        self.stop = stop
        self._event = wakeup.register()
        self._listener = (
            Listener(engine, CHANNEL, "new events") if engine.dialect.name == "postgresql" else None
        )

    def listen(self) -> None:
        """Starts listening, where the database can tell (PostgreSQL), before the worker's
        first look at the outbox: an event committed after that look is then heard, not
        lost between the look and the first sleep."""
        if self._listener is not None:
            self._listener.start()

    def wait(self, timeout: float) -> bool:
        """Sleeps up to ``timeout`` seconds; True when woken by a recorded event."""
        if self._listener is not None and self._listener.start():
            heard = self._listener.wait(
                timeout, until=lambda: self.stop.is_set() or self._event.is_set()
            )
            if heard:
                return True
            if heard is None:
                return False  # the connection was lost: the caller looks, then waits again
            woken = self._event.is_set() and not self.stop.is_set()
            self._event.clear()
            return woken
        deadline = time.monotonic() + timeout
        while not self.stop.is_set():  # in slices, so a stop (or SIGTERM) is seen soon
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._event.wait(min(remaining, SLICE_S)):
                self._event.clear()
                return not self.stop.is_set()
        return False

    def close(self) -> None:
        wakeup.unregister(self._event)
        if self._listener is not None:
            self._listener.close()
