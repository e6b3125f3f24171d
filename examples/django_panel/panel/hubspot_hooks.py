"""The panel's side of the plugin contract: its rows as the plugin's payloads, its users for
a contact backfill, and ticket changes made in HubSpot landing on its tickets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User as Account
from sqlalchemy import update

from skypanel_hubspot_plugin import Ticket, TicketChange, User, hookimpl
from skypanel_hubspot_plugin.django.tables import table_of

from .models import SupportTicket


def user_payload(account: Account) -> User:
    return User(
        id=str(account.pk),
        email=account.email,
        first_name=account.first_name,
        last_name=account.last_name,
    )


def ticket_payload(ticket: SupportTicket) -> Ticket:
    return Ticket(id=str(ticket.pk), subject=ticket.subject, content=ticket.body)


def list_users(after: str | None, limit: int) -> Sequence[User]:
    """``list_users(after, limit)`` for ``manage.py hubspot_sync_contacts``, in id order."""
    accounts = Account.objects.order_by("pk")
    if after is not None:
        accounts = accounts.filter(pk__gt=int(after))
    return [user_payload(a) for a in accounts[:limit]]


@hookimpl
def skypanel_on_hubspot_ticket_changed(change: TicketChange, session: Any) -> None:
    """A ticket HubSpot's agents changed: the panel's ticket takes its new status, written
    through ``session`` so it commits with the plugin's note that the change was handled
    (a Django ORM write here would wait on SQLite's lock: see ``table_of``)."""
    status = "deleted" if change.deleted else change.status
    if status and change.ticket_id.isdigit():
        tickets = table_of(SupportTicket)
        session.execute(
            update(tickets).where(tickets.c.id == int(change.ticket_id)).values(status=status)
        )
