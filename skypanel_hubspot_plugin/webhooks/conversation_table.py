"""What the plugin brought back of a ticket's conversation, so each item reaches the host once.

An agent's reply is recorded by its email id in the transaction that hands it to the host;
a ticket opened in HubSpot by its ticket id in the transaction that offers it to the host,
whatever the host answered. A second webhook, a poll's overlap, or polling and webhooks
both finding one reply, find the record and stop.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Field, Session, col

from skypanel_hubspot_plugin.delivery.erasure import Erasure, eraser
from skypanel_hubspot_plugin.delivery.outbox_table import utcnow
from skypanel_hubspot_plugin.settings.table import PluginTable


class HandledReply(PluginTable, table=True):
    """An agent's reply (HubSpot email engagement) handed to the host."""

    __tablename__ = "hubspot_handled_replies"

    email_id: str = Field(primary_key=True, max_length=40)
    panel_ticket_id: str = Field(max_length=255, index=True)
    hubspot_ticket_id: str = Field(max_length=40)
    handled_at: datetime = Field(default_factory=utcnow)


class BornTicket(PluginTable, table=True):
    """A ticket opened in HubSpot and offered to the host; ``panel_id`` is the panel ticket
    it became (None when the host left it in HubSpot)."""

    __tablename__ = "hubspot_born_tickets"

    hubspot_id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(max_length=255, index=True)
    panel_id: str | None = Field(default=None, max_length=255)
    offered_at: datetime = Field(default_factory=utcnow)


@eraser
def erase_conversation(session: Session, erasure: Erasure) -> None:
    """A GDPR delete: forgets which replies of the user's tickets came back and which
    tickets HubSpot opened for them."""
    tickets = sorted(erasure.tickets)
    for start in range(0, len(tickets), 500):
        part = tickets[start : start + 500]
        session.exec(delete(HandledReply).where(col(HandledReply.panel_ticket_id).in_(part)))
    session.exec(delete(BornTicket).where(col(BornTicket.user_id) == erasure.user_id))
