"""What a scrape reads from the database as it is: the queue, parked rows, the rate budget,
the daily-limit pause, polling, and the stored counters. A handful of small queries, each
on an index, whatever the size of the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, case, func, select

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.outbox import PAUSE
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, QUEUED, DeliveryLock, OutboxRow
from skypanel_hubspot_plugin.delivery.rate_limit import INTERVAL_S, remaining
from skypanel_hubspot_plugin.metrics import counters
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import (
    HubSpotSettings,
    parse_rate_limit,
    parse_sync_mode,
)
from skypanel_hubspot_plugin.settings.table import Setting
from skypanel_hubspot_plugin.webhooks.polling import CURSOR
from skypanel_hubspot_plugin.webhooks.table import PollCursor

_OUTBOX = OutboxRow.metadata.tables["hubspot_outbox"]
_LOCKS = DeliveryLock.metadata.tables["hubspot_delivery_locks"]
_SETTINGS = Setting.metadata.tables["settings"]
_CURSORS = PollCursor.metadata.tables["hubspot_poll_cursor"]
QUEUE_STATES = ("due", "leased", "retrying")


@dataclass
class Reading:
    """One scrape's figures."""

    queue: dict[str, int] = field(default_factory=dict)
    oldest_queued_age_s: float = 0.0
    parked: int = 0
    rate_limit: int = 0
    rate_limit_remaining: int = 0
    pause_remaining_s: float = 0.0
    #: None unless polling is the chosen way back and a poll has happened.
    poll_age_s: float | None = None
    counters: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Knobs:
    """The settings a reading needs: from the running plugin, or from the settings table."""

    rate_limit: int
    polling: bool

    @classmethod
    def of(cls, settings: HubSpotSettings) -> Knobs:
        return cls(settings.rate_limit, settings.ticket_sync == "polling")

    @classmethod
    def stored(cls, connection: Connection) -> Knobs:
        """Read from the ``settings`` table as saved; a value that does not parse counts as
        its default, as it does for the plugin."""
        rows = dict(
            connection.execute(
                select(_SETTINGS.c.key, _SETTINGS.c.value).where(
                    _SETTINGS.c.key.in_((keys.RATE_LIMIT, keys.TICKET_SYNC))
                )
            ).all()
        )
        defaults = HubSpotSettings()
        try:
            limit = parse_rate_limit(rows.get(keys.RATE_LIMIT))
        except ValueError:
            limit = defaults.rate_limit
        try:
            sync = parse_sync_mode(rows.get(keys.TICKET_SYNC))
        except ValueError:
            sync = defaults.ticket_sync
        return cls(limit, sync == "polling")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read(engine: Engine, knobs: Knobs | None = None) -> Reading:
    """Every figure of a scrape, in one connection."""
    now = clock.utcnow()
    reading = Reading()
    with engine.connect() as connection:
        knobs = knobs or Knobs.stored(connection)
        state = case(
            (_OUTBOX.c.claimed_until >= now, "leased"),
            (_OUTBOX.c.next_attempt_at > now, "retrying"),
            else_="due",
        )
        found = connection.execute(
            select(state, func.count()).where(_OUTBOX.c.status == QUEUED).group_by(state)
        ).all()
        reading.queue = {s: 0 for s in QUEUE_STATES} | {str(s): int(n) for s, n in found}
        oldest = connection.execute(
            select(_OUTBOX.c.created_at)
            .where(_OUTBOX.c.status == QUEUED)
            .order_by(_OUTBOX.c.id)
            .limit(1)
        ).scalar()
        if isinstance(oldest, datetime):
            reading.oldest_queued_age_s = max(0.0, (now - _aware(oldest)).total_seconds())
        parked = connection.execute(select(func.count()).where(_OUTBOX.c.status == DEAD)).scalar()
        reading.parked = int(parked or 0)
        reading.rate_limit = knobs.rate_limit
        reading.rate_limit_remaining = remaining(connection, knobs.rate_limit)
        until = connection.execute(select(_LOCKS.c.at).where(_LOCKS.c.name == PAUSE)).scalar()
        reading.pause_remaining_s = max(0.0, float(until or 0.0) - clock.now())
        if knobs.polling:
            last = connection.execute(
                select(_CURSORS.c.last_poll_at).where(_CURSORS.c.name == CURSOR)
            ).scalar()
            if last:
                reading.poll_age_s = max(0.0, clock.now() - float(last))
        reading.counters = list(counters.read_all(connection))
    return reading


__all__ = ["INTERVAL_S", "QUEUE_STATES", "Knobs", "Reading", "read"]
