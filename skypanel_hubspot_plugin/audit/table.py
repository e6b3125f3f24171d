"""The audit trail's table: one row per change an admin, an operator or the host made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.settings.table import PluginTable

#: Longest actor name and client address kept; longer ones are cut.
MAX_ACTOR = 255
MAX_ADDRESS = 100


def utcnow() -> datetime:
    return clock.utcnow()


class AuditEntry(PluginTable, table=True):
    """One change to the integration: what (``action`` and its ``details``, a JSON object of
    setting keys and counts), who (``actor``, ``via``), from where (``address``), when."""

    __tablename__ = "hubspot_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    action: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=MAX_ACTOR)
    address: str | None = Field(default=None, max_length=MAX_ADDRESS)
    via: str = Field(max_length=16)
    details: str = Field(default="{}", sa_type=Text)
