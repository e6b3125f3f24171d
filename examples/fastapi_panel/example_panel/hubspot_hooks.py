"""The panel's side of the plugin contract: how it turns its rows into the plugin's payloads,
lists its users for a contact backfill, and takes ticket changes made in HubSpot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin import Ticket, TicketChange, User, hookimpl

from .tables import PanelTicket, PanelUser


def user_payload(row: PanelUser) -> User:
    first, _, last = row.name.partition(" ")
    return User(id=str(row.id), email=row.email, first_name=first, last_name=last)


def ticket_payload(row: PanelTicket) -> Ticket:
    return Ticket(id=str(row.id), subject=row.subject, content=row.body, status=row.status)


def users_lister(engine: Engine) -> Any:
    """``list_users(after, limit)`` for the plugin's contact backfill, in id order."""

    def list_users(after: str | None, limit: int) -> Sequence[User]:
        with Session(engine) as session:
            query = select(PanelUser).order_by(col(PanelUser.id)).limit(limit)
            if after is not None:
                query = query.where(col(PanelUser.id) > int(after))
            return [user_payload(row) for row in session.exec(query)]

    return list_users


class PanelHooks:
    """Registered on the panel's plugin manager: a ticket HubSpot's agents change lands on
    the panel's ticket, in the transaction that records the change as handled."""

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        status = "deleted" if change.deleted else change.status
        if status and change.ticket_id.isdigit():
            session.execute(
                update(PanelTicket)
                .where(col(PanelTicket.id) == int(change.ticket_id))
                .values(status=status)
            )
