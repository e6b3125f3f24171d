"""The plugin on Django's database: its own engine for its own work, and Django's connection
for the events a request records.

Two engines per Django database alias:

- :func:`plugin_engine`: an ordinary SQLAlchemy engine on the same database, with its own
  connections. The worker, the settings store and the admin routes use it; they commit
  their own transactions.
- :func:`shared_engine`: an engine whose every connection IS the calling thread's Django
  connection, so an event recorded in a request is one more statement of the request's
  ``transaction.atomic()`` block, and only that block decides whether it commits.

Why the shared engine is built as it is (each obvious alternative loses data silently):

- Its DB-API connection is a stand-in whose ``commit``, ``rollback`` and ``close`` do
  nothing. SQLAlchemy rolls back when it returns a connection to its pool, when a
  ``Connection`` closes with a transaction begun, and once after its first connect (the
  dialect's check of the server); any of these on Django's connection would roll back
  the panel's whole transaction (the new user and the event vanish, without an error).
- The stand-in looks up Django's connection at every call instead of keeping one:
  Django closes and reopens connections between requests (``CONN_MAX_AGE``,
  ``close_old_connections``), and a kept one fails with "the connection is closed".
  Django's connections are per thread, so the lookup also gives each thread its own.
- ``NullPool``: nothing is pooled, so no connection outlives the ``with`` block that
  used it and no two threads ever share one SQLAlchemy connection record.
- It is never used to begin or commit: "joining" SQLAlchemy to Django's transaction
  with a session of its own commits Django's transaction early, so a raise later in the
  ``atomic()`` block could no longer take the event back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from skypanel_hubspot_plugin.delivery.wake import wake_workers

#: Django's own connection options, which libpq would not understand.
_DJANGO_ONLY_OPTIONS = frozenset(
    {"pool", "server_side_binding", "isolation_level", "assume_role", "cursor_factory"}
)

_lock = threading.Lock()
_plugin_engines: dict[str, Engine] = {}
_shared_engines: dict[tuple[str, str], Engine] = {}


def database_url(alias: str) -> URL:
    """The SQLAlchemy URL of Django database ``alias`` (as Django uses it now: under a test
    runner, the test database)."""
    try:
        wrapper = connections[alias]
    except Exception as exc:  # Django's ConnectionDoesNotExist
        raise ImproperlyConfigured(f"SKYPANEL_HUBSPOT['DATABASE']: {exc}") from None
    db = wrapper.settings_dict
    if wrapper.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise ImproperlyConfigured(
                f"DATABASES[{alias!r}] is an in-memory SQLite database: the plugin's worker "
                "cannot see it; use a file"
            )
        return URL.create("sqlite", database=name)
    if wrapper.vendor == "postgresql":
        options = {
            key: str(value)
            for key, value in (db.get("OPTIONS") or {}).items()
            if key not in _DJANGO_ONLY_OPTIONS and isinstance(value, str | int)
        }
        return URL.create(
            "postgresql+psycopg",
            username=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or None,
            port=int(db["PORT"]) if db.get("PORT") else None,
            database=db.get("NAME") or None,
            query=options,
        )
    raise ImproperlyConfigured(
        f"DATABASES[{alias!r}] uses {wrapper.vendor}; the HubSpot plugin supports SQLite "
        "and PostgreSQL"
    )


def plugin_engine(alias: str) -> Engine:
    """The plugin's own engine on Django database ``alias`` (one per URL, kept)."""
    url = database_url(alias)
    key = url.render_as_string(hide_password=False)
    with _lock:
        engine = _plugin_engines.get(key)
        if engine is None:
            engine = _plugin_engines[key] = create_engine(url)
        return engine


class DjangoDBAPIConnection:
    """A DB-API connection that is, at each call, the calling thread's Django connection
    ``alias``; committing, rolling back and closing are left to Django."""

    def __init__(self, alias: str) -> None:
        self._alias = alias

    def _django(self) -> Any:
        wrapper = connections[self._alias]
        wrapper.ensure_connection()
        return wrapper.connection

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        return self._django().cursor(*args, **kwargs)

    def commit(self) -> None:
        """Nothing: Django's ``atomic()`` (or its autocommit) commits."""

    def rollback(self) -> None:
        """Nothing: a rollback here would undo the panel's own writes (see the module)."""

    def close(self) -> None:
        """Nothing: Django opens and closes its connections."""

    # Set-up calls SQLAlchemy's dialects make on a new connection; Django's connection is
    # set up by Django (and its REGEXP function is Django's).
    def add_notice_handler(self, *args: Any) -> None:
        pass

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._django(), name)


def shared_engine(alias: str) -> Engine:
    """The engine whose connections are Django's connection ``alias`` (see the module)."""
    vendor = connections[alias].vendor
    with _lock:
        engine = _shared_engines.get((alias, vendor))
        if engine is None:
            if vendor == "postgresql":
                # hstore's set-up needs the real psycopg class, and no hstore is used.
                engine = create_engine(
                    "postgresql+psycopg://",
                    creator=lambda: DjangoDBAPIConnection(alias),
                    poolclass=NullPool,
                    pool_reset_on_return=None,
                    use_native_hstore=False,
                )
            else:
                engine = create_engine(
                    "sqlite://",
                    creator=lambda: DjangoDBAPIConnection(alias),
                    poolclass=NullPool,
                    pool_reset_on_return=None,
                )
            _shared_engines[(alias, vendor)] = engine
        return engine


@contextmanager
def shared_connection(alias: str) -> Iterator[Connection]:
    """A SQLAlchemy connection on Django's connection ``alias``, for the ``session``
    argument of the plugin's event hooks: what is written through it commits or rolls back
    with the enclosing ``transaction.atomic()`` (or at once under autocommit). When the block
    ends, this process's workers are woken on Django's commit (:func:`wake_workers`)."""
    with shared_engine(alias).connect() as connection:
        yield connection
        _check_not_aborted(alias)
    transaction.on_commit(wake_workers, using=alias)


def _check_not_aborted(alias: str) -> None:
    """A failed statement leaves a PostgreSQL transaction aborted, and committing it then
    silently rolls back the panel's own writes too: say so at once instead."""
    wrapper = connections[alias]
    if wrapper.vendor != "postgresql" or wrapper.connection is None:
        return
    import psycopg

    if wrapper.connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
        raise DatabaseError(
            "Recording the HubSpot event failed, and PostgreSQL aborted the transaction it "
            "shared with the panel's writes (see the HubSpot plugin's log for why)"
        )


def dispose() -> None:
    """Closes the plugin's engines (tests, and a process that forked)."""
    with _lock:
        engines = [*_plugin_engines.values(), *_shared_engines.values()]
        _plugin_engines.clear()
        _shared_engines.clear()
    for engine in engines:
        engine.dispose()
