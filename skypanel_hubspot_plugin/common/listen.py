"""Hearing another process's commit on PostgreSQL (LISTEN/NOTIFY) instead of asking the
database over and over: a recorded event for the workers, a settings save for every cache.

The writer adds :func:`notify` to its transaction, so the notification leaves exactly when
it commits (never for a rollback); a :class:`Listener` holds a connection of its own that
LISTENs and sleeps until told. Other databases have no such thing: callers poll there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Select, func, select

log = logging.getLogger(__name__)

#: Longest uninterrupted wait: a stop is noticed within this many seconds.
SLICE_S = 0.5


def notify(channel: str) -> Select[Any]:
    """The statement that notifies ``channel`` when the transaction running it commits."""
    return select(func.pg_notify(channel, ""))


class Listener:
    """A connection of its own, LISTENing on ``channel``; started on first use."""

    def __init__(self, engine: Engine, channel: str, purpose: str) -> None:
        self.engine = engine
        self.channel = channel
        #: Says in log lines what is missed while not listening ("new events").
        self.purpose = purpose
        self._connection: Any = None

    def __repr__(self) -> str:
        return f"Listener(channel={self.channel!r})"

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def start(self) -> bool:
        """Listens, if not already; False (logged) when the database cannot be reached."""
        if self._connection is not None:
            return True
        try:
            pooled = self.engine.raw_connection()
            connection = pooled.driver_connection
            pooled.detach()  # kept for LISTEN: never handed back to the pool in that state
            if connection is None:
                return False
            from psycopg import sql  # PostgreSQL's driver, only where LISTEN exists

            connection.autocommit = True
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self._connection = connection
            return True
        except Exception as exc:  # the database may be briefly unusable: callers poll meanwhile
            log.warning("Cannot LISTEN for %s (%s); polling", self.purpose, exc)
            return False

    def wait(self, timeout: float, until: Callable[[], bool]) -> bool | None:
        """Sleeps until a notification (True), ``timeout`` or ``until()`` (False), in short
        slices; None when the connection was lost (logged: the caller polls, then starts again)."""
        remaining = timeout
        try:
            while remaining > 0 and not until():
                slice_s = min(remaining, SLICE_S)
                for _ in self._connection.notifies(timeout=slice_s, stop_after=1):
                    return True
                remaining -= slice_s
        except Exception as exc:
            log.warning("Lost the LISTEN connection for %s (%s); polling", self.purpose, exc)
            self.close()
            return None
        return False

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: nothing more to release
                log.debug("LISTEN connection for %s closed broken", self.purpose)
