"""Which panel ticket a HubSpot ticket id reports to, merges included.

A ticket the plugin created is linked to its panel ticket by the outbox
(``hubspot_object_links``). When tickets are merged in HubSpot, the ids that took part
and the one that survives are recorded as aliases, so a later event about any of them
(and polling, which sees the surviving id) reaches the same panel ticket.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink
from skypanel_hubspot_plugin.webhooks.table import TicketAlias

TICKET = "ticket"


def panel_ticket_of(session: Session, hubspot_id: str) -> str | None:
    """The panel ticket that HubSpot's ticket ``hubspot_id`` reports to, if any."""
    linked = session.exec(
        select(ObjectLink.panel_id).where(
            col(ObjectLink.kind) == TICKET, col(ObjectLink.hubspot_id) == hubspot_id
        )
    ).first()
    if linked is not None:
        return linked
    alias = session.get(TicketAlias, hubspot_id)
    return alias.panel_id if alias is not None else None


def record_merge(
    session: Session, panel_id: str, merged_ids: Iterable[str], surviving_id: str
) -> None:
    """After a merge: every id involved, and the surviving one, report to ``panel_id``; the
    panel ticket's own link moves to the surviving id, so its next changes go there.

    Ids linked to another panel ticket keep their link (two panel tickets merged in HubSpot:
    each keeps its own history; the surviving id goes to ``panel_id``).
    """
    for hubspot_id in {*merged_ids, surviving_id} - {""}:
        owner = session.exec(
            select(ObjectLink.panel_id).where(
                col(ObjectLink.kind) == TICKET, col(ObjectLink.hubspot_id) == hubspot_id
            )
        ).first()
        if owner is not None and owner != panel_id:
            continue
        alias = session.get(TicketAlias, hubspot_id)
        if alias is None:
            session.add(TicketAlias(hubspot_id=hubspot_id, panel_id=panel_id))
        else:
            alias.panel_id = panel_id
            session.add(alias)
    link = session.get(ObjectLink, (TICKET, panel_id))
    taken = session.exec(
        select(ObjectLink.panel_id).where(
            col(ObjectLink.kind) == TICKET,
            col(ObjectLink.hubspot_id) == surviving_id,
            col(ObjectLink.panel_id) != panel_id,
        )
    ).first()
    if link is not None and taken is None:
        link.hubspot_id = surviving_id
        session.add(link)
