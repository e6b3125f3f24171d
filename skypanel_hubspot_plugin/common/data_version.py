"""Noticing another connection's commit on SQLite without reading a table.

SQLite's ``PRAGMA data_version`` gives, on one connection, a number that changes whenever
any *other* connection (of this process or another) commits to the database file; it reads
the file's change counter (or the WAL index), never a table, and takes no lock a writer
waits for. A :class:`DataVersion` keeps a connection of its own for it, so commits made
through the engine's pool, by this process included, count as "other". A database held in
memory has no other processes and no file: callers simply keep polling there.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)


def watchable(engine: Engine) -> bool:
    """Whether ``engine`` is SQLite on a file, where :class:`DataVersion` can tell."""
    url = engine.url
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    return engine.dialect.name == "sqlite" and not in_memory


class DataVersion:
    """Whether the database changed since the last look; opened on first use, in the
    thread that uses it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Any = None
        self._seen: int | None = None
        #: Looks taken, for benchmarks: each is one PRAGMA on this connection, no table read.
        self.looks = 0

    def __repr__(self) -> str:
        return f"DataVersion(database={self.engine.url.database!r})"

    def changed(self) -> bool | None:
        """True when another connection committed since the last call (and on the first),
        False when nothing did, None when it cannot tell (logged; the caller asks the table)."""
        try:
            if self._connection is None:
                pooled = self.engine.raw_connection()
                self._connection = pooled.driver_connection
                pooled.detach()  # kept for this: its number means nothing to another user
            self.looks += 1
            (version,) = self._connection.execute("PRAGMA data_version").fetchone()
        except Exception as exc:  # the file may be briefly unusable: ask the table meanwhile
            log.warning("Cannot read SQLite's data_version (%s); asking the table", exc)
            self.close()
            return None
        seen, self._seen = self._seen, int(version)
        return seen != self._seen

    def close(self) -> None:
        connection, self._connection = self._connection, None
        self._seen = None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: nothing more to release
                log.debug("data_version connection closed broken")
