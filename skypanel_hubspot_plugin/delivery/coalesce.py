"""One HubSpot record's pending rows, folded into the writes that leave it at the latest values.

The worker claims every queued row of a record (a user's contact, a panel ticket) at once
and never while another worker holds one of them, so the rows of a record are applied in
commit order by construction. Folding them here turns a burst of changes into one request
with the newest value of every property: a retry re-sends the fold, never an old row alone.

Rows already delivered that are newer than the oldest claimed row (which happens only when
an admin replays a parked row) take part in the fold too, so a replayed row can never put an
older value back over a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CONTACT_UPSERT = "contact.upsert"
CONTACT_UPDATE = "contact.update"
CONTACT_DELETE = "contact.delete"
TICKET_CREATE = "ticket.create"
TICKET_UPDATE = "ticket.update"
FORM_SUBMIT = "form.submit"
#: A message of a ticket's conversation: an email on the HubSpot ticket. Its rows share the
#: ticket's entity, so they are claimed with the ticket's own rows and after its creation.
TICKET_MESSAGE = "ticket.message"

#: Kinds whose rows write one HubSpot record, named by the row's ``entity``.
RECORD_KINDS = frozenset(
    {CONTACT_UPSERT, CONTACT_UPDATE, CONTACT_DELETE, TICKET_CREATE, TICKET_UPDATE, TICKET_MESSAGE}
)


@dataclass(frozen=True)
class Change:
    """One row as the fold sees it: its id, kind and payload; ``settled`` rows are not sent."""

    id: int
    kind: str
    payload: dict[str, Any]
    settled: bool = False

    @classmethod
    def of(cls, row_id: int | None, kind: str, payload: str, *, settled: bool = False) -> Change:
        assert row_id is not None
        return cls(row_id, kind, json.loads(payload), settled)


@dataclass
class ContactPlan:
    """What to send for one user's contact, in this order: a delete, then a write.

    ``full`` is the newest whole contact (every mapped property), used to create the
    contact or when an upsert row asks for all of it; ``changed`` is the newest value of
    every property that any row changed.
    """

    user_id: str
    delete: dict[str, Any] | None = None
    full: dict[str, str] | None = None
    changed: dict[str, str] = field(default_factory=dict)
    whole: bool = False  # some row asks for the whole contact (a sign-up or a backfill)
    email_changed: bool = False
    emails: list[str] = field(default_factory=list)  # every email the rows gave, oldest first

    @property
    def writes(self) -> bool:
        return self.full is not None or bool(self.changed)

    def properties(self, *, linked: bool) -> dict[str, str]:
        """The properties to write: the whole contact when creating or asked to, else the changes."""
        if self.full is not None and (self.whole or not linked):
            return {**self.changed, **self.full}  # the newest snapshot is the panel's state
        return dict(self.changed)


@dataclass
class TicketPlan:
    """What to send for one panel ticket: its creation (if a create row is pending) and
    the newest value of every property set since."""

    ticket_id: str
    create: dict[str, Any] | None = None  # the newest create row's payload: user and contact
    properties: dict[str, str] = field(default_factory=dict)


def contact_plan(changes: Sequence[Change]) -> ContactPlan:
    """Folds one user's rows, oldest first. A delete drops everything before it."""
    plan = ContactPlan(user_id=str(changes[0].payload.get("user_id", "")))
    for change in sorted(changes, key=lambda c: c.id):
        payload = change.payload
        if change.kind == CONTACT_DELETE:
            # A delete HubSpot already had needs no second request; what follows it still does.
            plan = ContactPlan(user_id=plan.user_id, delete=None if change.settled else payload)
            continue
        if change.kind in (CONTACT_UPSERT, CONTACT_UPDATE):
            snapshot = payload["properties" if change.kind == CONTACT_UPSERT else "contact"]
            if snapshot.get("email") and snapshot["email"] not in plan.emails:
                plan.emails.append(snapshot["email"])
        if change.kind == CONTACT_UPSERT:
            plan.full = dict(payload["properties"])
            plan.changed.update(payload["properties"])
            plan.whole = plan.whole or not change.settled
        elif change.kind == CONTACT_UPDATE:
            plan.full = dict(payload["contact"])
            plan.changed.update(payload["properties"])
            plan.email_changed = plan.email_changed or "email" in payload["properties"]
    return plan


def ticket_plan(changes: Sequence[Change]) -> TicketPlan:
    """Folds one ticket's rows, oldest first: its creation with every later change on top."""
    plan = TicketPlan(ticket_id=str(changes[0].payload.get("ticket_id", "")))
    for change in sorted(changes, key=lambda c: c.id):
        if change.kind == TICKET_MESSAGE:
            continue  # delivered on its own, as an email on the ticket
        if change.kind == TICKET_CREATE and not change.settled:
            plan.create = change.payload
        plan.properties.update(change.payload.get("properties") or {})
    return plan
