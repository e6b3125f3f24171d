"""Which panel ticket a HubSpot ticket id reports to, merges included.

A ticket the plugin created is linked to its panel ticket by the outbox
(``hubspot_object_links``). When tickets are merged in HubSpot, the ids that took part
and the one that survives are recorded as aliases, so a later event about any of them
(and polling, which sees the surviving id) reaches the same panel ticket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def _linked_to(session: Session, hubspot_id: str) -> str | None:
    return session.exec(
        select(ObjectLink.panel_id).where(
            col(ObjectLink.kind) == TICKET, col(ObjectLink.hubspot_id) == hubspot_id
        )
    ).first()


def merge_owner(session: Session, named: Sequence[str], surviving_id: str) -> str | None:
    """The panel ticket a merge reports to: the surviving id's, else the first named id's
    (primary first); None when the merge names no ticket of this panel."""
    for hubspot_id in (surviving_id, *named):
        panel_id = panel_ticket_of(session, hubspot_id)
        if panel_id is not None:
            return panel_id
    return None


def record_merge(session: Session, panel_id: str, named: Iterable[str], surviving_id: str) -> None:
    """After a merge naming ``named`` (primary, merged and new ids) that reports to
    ``panel_id``: the named ids nobody else holds, and the surviving one, report to
    ``panel_id``; the panel ticket's own link moves to the surviving id, but only when the
    merge names the id it is linked to.

    A merge moves nothing it does not name, and nothing another panel ticket holds: ids
    linked or aliased to another panel ticket keep reporting there (two panel tickets
    merged in HubSpot: each keeps its own history; the surviving id goes to ``panel_id``).
    """
    ids = {*named, surviving_id} - {""}
    for hubspot_id in ids:
        owner = _linked_to(session, hubspot_id)
        if owner is not None and owner != panel_id:
            continue
        # An existing alias is this ticket's already, or another's from an earlier merge,
        # which stays its own.
        if session.get(TicketAlias, hubspot_id) is None:
            session.add(TicketAlias(hubspot_id=hubspot_id, panel_id=panel_id))
    link = session.get(ObjectLink, (TICKET, panel_id))
    taken = _linked_to(session, surviving_id)
    if link is not None and link.hubspot_id in ids and taken in (None, panel_id):
        link.hubspot_id = surviving_id
        session.add(link)
