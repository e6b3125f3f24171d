"""The demo panel's side of two-way ticket sync: what HubSpot's agents do lands on its tickets.

The plugin fires these hooks once per change, inside the transaction that records the
change as handled; the panel writes its own tables in that same session, so the two commit
together (or neither does, and the plugin hands the change on again):

- ``skypanel_on_hubspot_ticket_changed``: an agent moved the ticket (its status follows);
- ``skypanel_on_hubspot_ticket_message``: an agent answered the customer (a message of the
  ticket, shown on the customer's ticket page);
- ``skypanel_on_hubspot_ticket_created``: an agent opened a ticket in HubSpot for a panel
  customer, e.g. from a chat (a new ticket in the customer's list).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import HubSpotBornTicket, HubSpotTicketMessage, TicketChange

from .forms import PRIORITIES, STATUSES
from .panel_tables import AGENT, PanelTicket, PanelTicketMessage, PanelUser

#: A ticket opened in HubSpot without a subject (a chat turned into a ticket, say).
NO_SUBJECT = "Support request"
SUBJECT_MAX = 255


class TicketSync:
    """Registered in the panel's plugin manager as the host's own hook implementation."""

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        if not change.ticket_id.isdigit():
            return
        status = "deleted" if change.deleted else change.status
        if status:
            session.execute(
                update(PanelTicket)
                .where(col(PanelTicket.id) == int(change.ticket_id))
                .values(status=status)
            )

    @hookimpl
    def skypanel_on_hubspot_ticket_message(
        self, message: HubSpotTicketMessage, session: Session
    ) -> None:
        if not message.ticket_id.isdigit():
            return
        ticket = session.get(PanelTicket, int(message.ticket_id))
        known = select(PanelTicketMessage.id).where(
            col(PanelTicketMessage.hubspot_email_id) == message.hubspot_email_id
        )
        if ticket is None or session.exec(known).first() is not None:
            return
        session.add(
            PanelTicketMessage(
                ticket_id=int(message.ticket_id),
                author_kind=AGENT,
                author_name=message.author_name,
                author_email=message.author_email,
                body=message.text,
                sent_at=message.sent_at,
                hubspot_email_id=message.hubspot_email_id,
            )
        )

    @hookimpl
    def skypanel_on_hubspot_ticket_created(
        self, ticket: HubSpotBornTicket, session: Session
    ) -> str | None:
        if not ticket.user_id.isdigit() or session.get(PanelUser, int(ticket.user_id)) is None:
            return None
        priority = ticket.priority.lower()
        row = PanelTicket(
            user_id=int(ticket.user_id),
            subject=(ticket.subject.strip() or NO_SUBJECT)[:SUBJECT_MAX],
            content=ticket.content,
            priority=priority if priority in dict(PRIORITIES) else "medium",
            status=ticket.status if ticket.status in dict(STATUSES) else "open",
            created_at=ticket.created_at,
        )
        session.add(row)
        session.flush()  # the id the plugin links the HubSpot ticket to
        return str(row.id)
