"""The seed's ``settings`` key/value table, and the idempotent initial setup.

The plugin's tables live on their own SQLAlchemy MetaData, so a host whose own
SQLModel models also declare ``settings`` neither clashes with ours nor loses its table:
when a ``settings`` table of the right shape already exists, the plugin uses it.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, Text, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, select

from skypanel_hubspot_plugin.settings import schema as keys

log = logging.getLogger(__name__)


class PluginTable(SQLModel, registry=registry()):
    """Base of the plugin's tables; separate metadata from the host's SQLModel models."""


class Setting(PluginTable, table=True):
    """One row of the host's ``settings`` table (``key``, ``value``, ``description``)."""

    __tablename__ = "settings"

    key: str = Field(primary_key=True, max_length=255)
    value: str | None = Field(default=None, sa_type=Text)
    description: str | None = Field(default=None, sa_type=Text)


class SettingsTableMismatch(RuntimeError):
    """The host has a ``settings`` table, but not one of ``key``, ``value``, ``description``."""


REQUIRED_COLUMNS = frozenset({"key", "value", "description"})


def ensure_tables(engine: Engine) -> None:
    """Creates the plugin's tables that are missing; checks an existing ``settings`` table's shape."""
    inspector = inspect(engine)
    if inspector.has_table(Setting.__tablename__):
        columns = {c["name"] for c in inspector.get_columns(Setting.__tablename__)}
        missing = REQUIRED_COLUMNS - columns
        if missing:
            raise SettingsTableMismatch(
                f"The existing 'settings' table lacks column(s) {sorted(missing)}; "
                "the plugin needs key, value and description."
            )
    PluginTable.metadata.create_all(engine)
    # create_all makes missing tables with their indexes; an index a newer version added
    # to an existing table is made here.
    for table in PluginTable.metadata.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)


def install_defaults(engine: Engine) -> list[str]:
    """Inserts the default ``hubspot_*`` rows that are missing; never overwrites a value.

    Returns the keys it inserted. Safe to run from several processes at once.
    """
    for _attempt in range(3):
        with Session(engine) as session:
            present = set(
                session.exec(select(Setting.key).where(col(Setting.key).in_(keys.DEFAULTS)))
            )
            missing = [k for k in keys.DEFAULTS if k not in present]
            for key in missing:
                session.add(
                    Setting(key=key, value=keys.DEFAULTS[key], description=keys.DESCRIPTIONS[key])
                )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                continue  # another process inserted some of them first: look again
            if missing:
                log.info("HubSpot settings initialised: %s", ", ".join(missing))
            return missing
    return []
