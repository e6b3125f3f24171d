"""The demo panel's side of two-way ticket sync: HubSpot's changes land on its tickets.

The plugin verifies HubSpot's webhook and fires ``skypanel_on_hubspot_ticket_changed``
once per event, inside the transaction that records the event; the panel updates its own
ticket in that same transaction, so the two commit together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col

from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import TicketChange

from .panel_tables import PanelTicket


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
