"""The plugin's schema versions: Alembic migrations shipped in the package, run by start-up.

:func:`upgrade` is all a host needs (``skypanel_startup`` and ``skypanel-hubspot init-db``
run it). The versions live in ``versions/``; the first, ``0.1.0``, is release 0.1.0's
tables, created only where missing, so a 0.1.0 database (which had no version table)
upgrades in place. The version table is ``skypanel_hubspot_alembic_version``, never the
host's ``alembic_version``.
"""

from __future__ import annotations

from skypanel_hubspot_plugin.migrations.errors import SchemaBusy, SettingsTableMismatch
from skypanel_hubspot_plugin.migrations.runner import (
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)

__all__ = [
    "VERSION_TABLE",
    "SchemaBusy",
    "SettingsTableMismatch",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade",
]
