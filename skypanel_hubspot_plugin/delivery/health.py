"""Delivery's health at a glance, for ``skypanel-hubspot status`` and the admin's status route.

Read from the plugin's own tables only, so it answers while HubSpot is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.delivery.outbox_table import (
    DEAD,
    DELIVERED,
    QUEUED,
    OutboxRow,
    RateSlot,
    utcnow,
)

#: The rolling window of the shared request budget, as the worker's rate limit uses it.
WINDOW_S = 10.0


@dataclass(frozen=True)
class Health:
    counts: dict[str, int]
    oldest_waiting_s: float | None
    last_delivered_at: datetime | None
    budget_left: int
    budget: int
    paused_until: datetime | None
    api_version: str

    def as_json(self) -> dict[str, object]:
        return {
            "counts": {s: self.counts.get(s, 0) for s in (QUEUED, DELIVERED, DEAD)},
            "oldestWaitingSeconds": self.oldest_waiting_s,
            "parked": self.counts.get(DEAD, 0),
            "lastDeliveredAt": self.last_delivered_at.isoformat()
            if self.last_delivered_at
            else None,
            "rateLimit": {"left": self.budget_left, "per10s": self.budget},
            "pausedUntil": self.paused_until.isoformat() if self.paused_until else None,
            "apiVersion": self.api_version,
        }

    def lines(self) -> list[str]:
        counts = self.counts
        oldest = (
            "none waiting"
            if self.oldest_waiting_s is None
            else f"oldest waiting {self.oldest_waiting_s:.0f} s"
        )
        last = self.last_delivered_at.isoformat() if self.last_delivered_at else "never"
        lines = [
            f"queued: {counts.get(QUEUED, 0)} ({oldest})   delivered: "
            f"{counts.get(DELIVERED, 0)}   parked: {counts.get(DEAD, 0)}",
            f"last delivery: {last}",
            f"rate limit: {self.budget_left} of {self.budget} requests left in this 10 s window",
            f"HubSpot API version: {self.api_version}",
        ]
        if self.paused_until is not None:
            lines.append(
                f"paused until {self.paused_until.isoformat()}: HubSpot's daily limit is spent"
            )
        return lines


def health(outbox: Outbox, budget: int, api_version: str) -> Health:
    """Four small queries on the plugin's tables."""
    now = utcnow()
    with Session(outbox.engine) as session:
        oldest, last = session.exec(
            select(
                select(func.min(OutboxRow.created_at))
                .where(col(OutboxRow.status) == QUEUED)
                .scalar_subquery(),
                select(func.max(OutboxRow.delivered_at))
                .where(col(OutboxRow.status) == DELIVERED)
                .scalar_subquery(),
            )
        ).one()
        used = session.exec(
            select(func.count())
            .select_from(RateSlot)
            .where(col(RateSlot.at) >= clock.now() - WINDOW_S)
        ).one()
    oldest = _aware(oldest)
    return Health(
        counts=outbox.counts(),
        oldest_waiting_s=(now - oldest).total_seconds() if oldest else None,
        last_delivered_at=_aware(last),
        budget_left=max(0, budget - int(used)),
        budget=budget,
        paused_until=outbox.paused_until(),
        api_version=api_version,
    )


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)
