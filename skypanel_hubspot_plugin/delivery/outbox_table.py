"""The durable outbox and the panel-id → HubSpot-id links, as SQLModel tables.

An event hook writes one :class:`OutboxRow` (in the host's transaction when it has one)
and returns; the worker delivers it. A row is never deleted: it ends ``delivered`` or
``dead`` (parked with HubSpot's last error, replayable). ``entity`` names the HubSpot
record a row writes (``user:42`` for that user's contact, ``ticket:7``): a record's rows
are claimed together and delivered in order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, column
from sqlmodel import Field

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.common.scrub import ScrubbedText
from skypanel_hubspot_plugin.settings.table import PluginTable

QUEUED = "queued"
DELIVERED = "delivered"
DEAD = "dead"


def utcnow() -> datetime:
    return clock.utcnow()


class OutboxRow(PluginTable, table=True):
    """One panel event waiting for, or done with, delivery to HubSpot."""

    __tablename__ = "hubspot_outbox"
    # Claims read queued rows oldest first and stop after a batch; every other question by
    # status (what is due next, what to purge) is narrowed by it too. Each index is one
    # more write on the panel's own commit, so there is no other on status.
    # A backfill's rows are found by it; the panel's own events (no backfill) are not in it.
    __table_args__ = (
        Index("ix_hubspot_outbox_queue", "status", "id"),
        Index(
            "ix_hubspot_outbox_backfill_id",
            "backfill_id",
            sqlite_where=column("backfill_id").is_not(None),
            postgresql_where=column("backfill_id").is_not(None),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    entity: str = Field(max_length=300, index=True)
    payload: str = Field(sa_type=Text)
    status: str = Field(default=QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_type=ScrubbedText)
    hubspot_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    backfill_id: int | None = None


class ObjectLink(PluginTable, table=True):
    """Which HubSpot object a panel user or ticket became, so retries never create twice."""

    __tablename__ = "hubspot_object_links"

    kind: str = Field(primary_key=True, max_length=16)
    panel_id: str = Field(primary_key=True, max_length=255)
    hubspot_id: str = Field(max_length=40, index=True)


class DeliveryLock(PluginTable, table=True):
    """A row every claim updates first, so claims run one at a time on any database.

    Claiming decides from what other workers hold (a record's rows go to one worker at a
    time); taking this row's write lock first makes that decision see every earlier claim.
    """

    __tablename__ = "hubspot_delivery_locks"

    name: str = Field(primary_key=True, max_length=32)
    at: float = 0.0


class RateSlot(PluginTable, table=True):
    """One HubSpot request in the current window, shared by every worker on the database."""

    __tablename__ = "hubspot_rate_slots"

    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(index=True)


class Backfill(PluginTable, table=True):
    """One run of "sync all contacts": how far it has read the panel's users, and when done.

    ``cursor`` is the id of the last user queued; a run cut short resumes after it.
    ``queued_all_at`` stays empty while users are still being read.
    """

    __tablename__ = "hubspot_backfills"

    id: int | None = Field(default=None, primary_key=True)
    cursor: str | None = Field(default=None, max_length=255)
    queued: int = 0
    started_at: datetime = Field(default_factory=utcnow)
    queued_all_at: datetime | None = None
