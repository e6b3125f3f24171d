"""The seed's ``settings`` key/value table, and the idempotent initial setup.

The plugin's tables live on their own SQLAlchemy MetaData, so a host whose own
SQLModel models also declare ``settings`` neither clashes with ours nor loses its table:
when a ``settings`` table of the right shape already exists, the plugin uses it. The
tables are made and changed by the migrations (:mod:`skypanel_hubspot_plugin.migrations`),
never by ``create_all``: a model change comes with a migration.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, select

from skypanel_hubspot_plugin import migrations
from skypanel_hubspot_plugin.migrations import SettingsTableMismatch
from skypanel_hubspot_plugin.settings import schema as keys

log = logging.getLogger(__name__)

__all__ = ["PluginTable", "Setting", "SettingsTableMismatch", "ensure_tables", "install_defaults"]


class PluginTable(SQLModel, registry=registry()):
    """Base of the plugin's tables; separate metadata from the host's SQLModel models."""


class Setting(PluginTable, table=True):
    """One row of the host's ``settings`` table (``key``, ``value``, ``description``)."""

    __tablename__ = "settings"

    key: str = Field(primary_key=True, max_length=255)
    value: str | None = Field(default=None, sa_type=Text)
    description: str | None = Field(default=None, sa_type=Text)


def ensure_tables(engine: Engine) -> None:
    """Creates the plugin's tables, or upgrades them to this release's schema version.

    Safe from several processes at once; see :mod:`skypanel_hubspot_plugin.migrations`."""
    migrations.upgrade(engine)


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
