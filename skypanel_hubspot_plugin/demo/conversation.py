"""A ticket's conversation in the demo panel: reading its thread, adding a message.

The customer (on their ticket page) and the staff (on the admin's ticket page) write
messages; each is stored and ``skypanel_on_ticket_message_added`` fired in the same
transaction, so a message that commits always reaches HubSpot and one that does not never
does. Agents' replies come the other way (see :mod:`.ticket_sync`) and are stored in the
same table; HubSpot's internal notes never reach the panel at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pluggy
from sqlmodel import Session, col, select

from .panel_tables import AGENT, CUSTOMER, STAFF, PanelTicket, PanelTicketMessage

#: Words for who wrote a message, as the customer reads them and as the staff does.
CUSTOMER_WORDS = {CUSTOMER: "You", STAFF: "Support", AGENT: "Support"}
STAFF_WORDS = {CUSTOMER: "Customer", STAFF: "Staff", AGENT: "HubSpot agent"}
#: Statuses a ticket takes no more messages in.
ENDED = frozenset({"closed", "deleted"})


def thread(session: Session, ticket: PanelTicket) -> Sequence[PanelTicketMessage]:
    """The ticket's messages in the order they were written (then in the order stored)."""
    return session.exec(
        select(PanelTicketMessage)
        .where(col(PanelTicketMessage.ticket_id) == ticket.id)
        .order_by(col(PanelTicketMessage.sent_at), col(PanelTicketMessage.id))
    ).all()


def add_message(
    pm: pluggy.PluginManager,
    session: Session,
    ticket: PanelTicket,
    *,
    author_kind: str,
    body: str,
    author_name: str = "",
    author_email: str = "",
) -> PanelTicketMessage:
    """Stores a customer's or a staff member's message and fires the hook in ``session``;
    the caller commits."""
    assert author_kind in (CUSTOMER, STAFF) and ticket.id is not None
    message = PanelTicketMessage(
        ticket_id=ticket.id,
        author_kind=author_kind,
        author_name=author_name,
        author_email=author_email,
        body=body,
        sent_at=datetime.now(UTC),
    )
    session.add(message)
    session.flush()  # the message's id: HubSpot's email is upserted by it
    pm.hook.skypanel_on_ticket_message_added(message=message.as_message(), session=session)
    return message


def when(moment: datetime) -> str:
    """A message's time as the pages show it (stored as UTC, read back naive on SQLite)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
