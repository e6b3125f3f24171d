"""The panel's side of the plugin contract: its rows as the plugin's payloads, its users for
a contact backfill, and ticket changes made in HubSpot landing on its tickets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from skypanel_hubspot_plugin import Ticket, TicketChange, User, hookimpl

from .models import Customer, SupportTicket


def user_payload(row: Customer) -> User:
    first, _, last = row.name.partition(" ")
    return User(id=str(row.id), email=row.email, first_name=first, last_name=last)


def ticket_payload(row: SupportTicket) -> Ticket:
    return Ticket(id=str(row.id), subject=row.subject, content=row.body, status=row.status)


def users_lister(engine: Engine) -> Any:
    """``list_users(after, limit)``, in id order; named in ``SKYPANEL_HUBSPOT_USERS``."""

    def list_users(after: str | None, limit: int) -> Sequence[User]:
        with Session(engine) as session:
            query = select(Customer).order_by(Customer.id).limit(limit)
            if after is not None:
                query = query.where(Customer.id > int(after))
            return [user_payload(row) for row in session.scalars(query)]

    return list_users


class PanelHooks:
    """A ticket HubSpot's agents change lands on the panel's ticket, in the transaction that
    records the change as handled (``session`` is the plugin's, on the panel's database)."""

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        status = "deleted" if change.deleted else change.status
        if status and change.ticket_id.isdigit():
            session.execute(
                update(SupportTicket)
                .where(SupportTicket.id == int(change.ticket_id))
                .values(status=status)
            )
