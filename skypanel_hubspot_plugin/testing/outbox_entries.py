"""The outbox as a test reads it: plain, frozen records, and the failures the kit raises.

A row of the plugin's outbox becomes an :class:`OutboxEntry` with the words a host's test
asserts on: ``status`` is ``queued``, ``delivered`` or ``parked``; ``waiting_for`` says
why a queued one has not gone yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, QUEUED, OutboxRow

#: The outbox's statuses in the kit's words.
STATUS_WORDS = {QUEUED: "queued", DELIVERED: "delivered", DEAD: "parked"}
STATUSES = tuple(STATUS_WORDS.values())


@dataclass(frozen=True)
class OutboxEntry:
    """One delivery the panel asked for.

    ``kind`` is what it does in HubSpot (``contact.upsert``, ``contact.update``,
    ``contact.delete``, ``ticket.create``, ``ticket.update``, ``form.submit``);
    ``record`` the panel record it writes (``user:42``, ``ticket:7``); ``payload`` what
    the panel handed over; ``hubspot_id`` the HubSpot record it reached, once delivered;
    ``waiting_for`` why a queued entry is not due (an older row of its record, its next
    attempt, HubSpot's daily limit), None when it is due now; ``last_error`` HubSpot's
    latest refusal, scrubbed of secrets.
    """

    id: int
    kind: str
    record: str
    status: str
    attempts: int
    waiting_for: str | None
    last_error: str | None
    hubspot_id: str | None
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        text = f"{self.kind} #{self.id} ({self.record}), {self.status}"
        if self.attempts:
            text += f" after {self.attempts} attempt{'s' if self.attempts > 1 else ''}"
        if self.waiting_for:
            text += f", {self.waiting_for}"
        if self.last_error:
            text += f": {self.last_error}"
        return text


def entries(
    rows: Iterable[OutboxRow],
    waits: Mapping[int, str],
    now: datetime,
    paused_until: datetime | None,
) -> list[OutboxEntry]:
    """Rows → entries; ``waits`` is :meth:`Outbox.waiting_for` of the queued ones."""
    found = []
    for row in rows:
        assert row.id is not None
        status = STATUS_WORDS.get(row.status, row.status)
        waiting = None
        if row.status == QUEUED:
            due = _aware(row.next_attempt_at)
            if row.id in waits:
                waiting = waits[row.id]
            elif paused_until is not None:
                waiting = f"HubSpot's daily limit, which resets in {_seconds(paused_until - now)}"
            elif due > now:
                waiting = (
                    f"its next attempt, due in {_seconds(due - now)} (kit.advance moves the clock)"
                )
        found.append(
            OutboxEntry(
                id=row.id,
                kind=row.kind,
                record=row.entity,
                status=status,
                attempts=row.attempts,
                waiting_for=waiting,
                last_error=row.last_error,
                hubspot_id=row.hubspot_id,
                payload=json.loads(row.payload),
            )
        )
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds(delta: Any) -> str:
    return f"{max(0.0, delta.total_seconds()):.1f} s"


class DeliveryParked(AssertionError):
    """Raised by ``drain()`` when deliveries were parked: HubSpot refused them for good (or
    they could never be sent). ``entries`` are the parked deliveries, each with its error.

    A test that means to park one catches it: ``with pytest.raises(DeliveryParked): kit.drain()``.
    """

    def __init__(self, parked: Sequence[OutboxEntry]) -> None:
        self.entries = list(parked)
        lines = "\n".join(f"  {entry}" for entry in self.entries)
        super().__init__(
            f"{len(self.entries)} HubSpot deliver{'ies' if len(self.entries) > 1 else 'y'} "
            f"parked:\n{lines}\n(kit.outbox('parked') lists them; kit.replay() queues them again)"
        )


class KitRefusal(AssertionError):
    """The test kit cannot do what was asked; the message names the fix."""


class WebhookRefused(AssertionError):
    """The panel answered HubSpot's webhook with an error; the message quotes its answer."""
