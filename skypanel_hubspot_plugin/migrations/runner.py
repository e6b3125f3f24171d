"""Brings the plugin's tables to the current schema version, from any process, at any time.

Every start (``init-db``, the host's ``skypanel_startup``, a worker, a CLI command) calls
:func:`upgrade`. The usual case, a database already current, costs one query and takes no
lock. Otherwise one process at a time upgrades, under a lock taken in the same
transaction: PostgreSQL's advisory lock, SQLite's write lock (``BEGIN IMMEDIATE``). The
others wait, then find the version current and do nothing. A host transaction holding the
database is waited for, up to ``wait_s`` seconds, with a message saying so.
"""

from __future__ import annotations

import logging
import time

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from skypanel_hubspot_plugin.migrations.errors import SchemaBusy

log = logging.getLogger(__name__)

#: The plugin's own Alembic version table, apart from a host's ``alembic_version``.
VERSION_TABLE = "skypanel_hubspot_alembic_version"
SCRIPT_LOCATION = "skypanel_hubspot_plugin:migrations"
#: How long start-up waits for another transaction holding the database.
DEFAULT_WAIT_S = 60.0
#: PostgreSQL advisory lock key taken while upgrading ("skyhubs" in ASCII).
LOCK_KEY = 0x736B7968756273
#: Upgrades tried when a table appears meanwhile (the host creating ``settings`` itself).
ATTEMPTS = 3
#: SQLSTATE of PostgreSQL's lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"


def alembic_config(connection: Connection | None = None) -> Config:
    """The plugin's Alembic configuration; no alembic.ini involved."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema version this release needs."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the baseline is always there
    return head


def current_revision(connection: Connection) -> str | None:
    """The database's schema version; None before the plugin (or 0.1.0, which had none)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine, *, wait_s: float | None = None) -> str:
    """Creates or upgrades the plugin's tables to :func:`head_revision`; returns it.

    Safe to run from several processes at once. Raises :class:`SchemaBusy` when another
    transaction held the database for ``wait_s`` seconds (default :data:`DEFAULT_WAIT_S`)."""
    wait_s = DEFAULT_WAIT_S if wait_s is None else wait_s
    head = head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return head
    deadline = time.monotonic() + wait_s
    for attempt in range(1, ATTEMPTS + 1):
        with engine.connect() as conn:
            try:
                _lock(conn, deadline, wait_s)
                found = current_revision(conn)  # another process may have just done it
                if found != head:
                    command.upgrade(alembic_config(conn), "head")
                    log.info("HubSpot tables upgraded from %s to %s", found or "nothing", head)
                conn.commit()
                return head
            except (IntegrityError, ProgrammingError) as exc:
                # A table appeared after we looked, made by someone not taking our lock (the
                # host creating its own ``settings``): look again under the lock.
                conn.rollback()
                if attempt == ATTEMPTS:
                    raise
                log.info("HubSpot tables changed while upgrading (%s); checking again", exc.orig)
            except OperationalError as exc:
                conn.rollback()
                if _sqlstate(exc) == LOCK_NOT_AVAILABLE:
                    raise _busy(wait_s) from None
                raise
    raise AssertionError("unreachable")


def _lock(conn: Connection, deadline: float, wait_s: float) -> None:
    if conn.dialect.name == "postgresql":
        _lock_postgresql(conn, deadline)
    elif conn.dialect.name == "sqlite":
        _lock_sqlite(conn, deadline, wait_s)
    # Elsewhere the database's own DDL locking is all there is; the retry above covers it.


def _lock_postgresql(conn: Connection, deadline: float) -> None:
    # Bounds the advisory lock and every DDL statement's wait for the host's locks; LOCAL
    # (the last argument) ends it with this transaction.
    remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
    conn.execute(select(func.set_config("lock_timeout", f"{remaining_ms}ms", True)))
    if not conn.execute(select(func.pg_try_advisory_xact_lock(LOCK_KEY))).scalar():
        log.warning(_waiting(remaining_ms / 1000))
        conn.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))


def _lock_sqlite(conn: Connection, deadline: float, wait_s: float) -> None:
    # The write lock at once, not at the first write: the version read after it is then
    # the one we upgrade from. SQLAlchemy has no construct for it; the statement is fixed.
    told = False
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits up to the driver's busy timeout
            return
        except OperationalError as exc:
            conn.rollback()
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                raise
            if time.monotonic() >= deadline:
                raise _busy(wait_s) from None
            if not told:
                log.warning(_waiting(deadline - time.monotonic()))
                told = True
            time.sleep(0.05)  # a driver busy timeout of 0 would otherwise spin


def _waiting(seconds: float) -> str:
    return (
        "HubSpot plugin: the database is held by another transaction (the panel's, or another "
        f"process creating the plugin's tables); waiting up to {seconds:.0f} s to create or "
        "upgrade the HubSpot tables"
    )


def _busy(wait_s: float) -> SchemaBusy:
    return SchemaBusy(
        f"The database stayed held by another transaction for {wait_s:.0f} s, so the HubSpot "
        "tables could not be created or upgraded; end that transaction (or run "
        "`skypanel-hubspot init-db` once it is done). The plugin tries again by itself."
    )


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
