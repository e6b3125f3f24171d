"""HubSpot webhook events already handled, so a redelivered event reaches the host once.

HubSpot retries a delivery it did not see acknowledged and may send one event twice;
each event's ``eventId`` is recorded in the transaction that hands it to the host, and a
second arrival finds it here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Text, delete
from sqlmodel import Field, Session, col, select

from skypanel_hubspot_plugin.delivery.erasure import Erasure, eraser
from skypanel_hubspot_plugin.delivery.outbox_table import utcnow
from skypanel_hubspot_plugin.settings.table import PluginTable


class WebhookEvent(PluginTable, table=True):
    __tablename__ = "hubspot_webhook_events"

    event_id: str = Field(primary_key=True, max_length=40)
    object_id: str = Field(max_length=40)
    subscription_type: str = Field(max_length=100)
    received_at: datetime = Field(default_factory=utcnow)


class TicketAlias(PluginTable, table=True):
    """A HubSpot ticket id that reports to a panel ticket other than through its own link.

    When tickets are merged in HubSpot, the merged-away ids and the surviving one all keep
    reporting to the panel ticket that took part in the merge; each id gets a row here.
    """

    __tablename__ = "hubspot_ticket_aliases"

    hubspot_id: str = Field(primary_key=True, max_length=40)
    panel_id: str = Field(max_length=255, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class PollCursor(PluginTable, table=True):
    """Where polling HubSpot for changed tickets has got to, shared by every worker.

    ``modified_ms`` and ``object_id`` are the newest change handled (HubSpot's
    ``hs_lastmodifieddate``, the ticket id breaking ties); the next poll reads from a window
    behind it, as HubSpot's search index lags writes. ``last_poll_at`` and ``lease_until``
    (epoch seconds) make one worker at a time poll, once an interval.
    """

    __tablename__ = "hubspot_poll_cursor"

    name: str = Field(primary_key=True, max_length=40)
    modified_ms: int = Field(default=0, sa_type=BigInteger)
    object_id: int = Field(default=0, sa_type=BigInteger)
    last_poll_at: float = 0.0
    lease_until: float = 0.0
    lease_owner: str | None = Field(default=None, max_length=100)


class PolledTicket(PluginTable, table=True):
    """The last version of a ticket that polling handed on (or found unchanged): its
    modification time and tracked values, so each change reaches the host once."""

    __tablename__ = "hubspot_polled_tickets"

    hubspot_id: str = Field(primary_key=True, max_length=40)
    modified_ms: int = Field(sa_type=BigInteger)
    properties: str = Field(sa_type=Text)


class ReceiverProblem(PluginTable, table=True):
    """Why ticket changes made in HubSpot could not be handed to the host, while they cannot.

    A process whose host hook is missing writes it when it refuses a webhook (503) or skips
    a poll; a process that can hand changes on deletes it. ``skypanel-hubspot status`` (a
    process of its own, without the host's hooks) reads it here.
    """

    __tablename__ = "hubspot_receiver_problems"

    name: str = Field(primary_key=True, max_length=40)
    reason: str = Field(sa_type=Text)
    since: datetime = Field(default_factory=utcnow)
    last_at: datetime = Field(default_factory=utcnow)


@eraser
def erase_tickets(session: Session, erasure: Erasure) -> None:
    """A GDPR delete: forgets the user's tickets here too (their merged ids, and the
    subjects polling last saw), so neither webhooks nor polling report them again."""
    panel_ids = sorted(erasure.tickets)
    hubspot_ids = set(erasure.hubspot_tickets)
    for start in range(0, len(panel_ids), 500):
        part = panel_ids[start : start + 500]
        hubspot_ids |= set(
            session.exec(select(TicketAlias.hubspot_id).where(col(TicketAlias.panel_id).in_(part)))
        )
        session.exec(delete(TicketAlias).where(col(TicketAlias.panel_id).in_(part)))
    ids = sorted(hubspot_ids)
    for start in range(0, len(ids), 500):
        session.exec(
            delete(PolledTicket).where(col(PolledTicket.hubspot_id).in_(ids[start : start + 500]))
        )
