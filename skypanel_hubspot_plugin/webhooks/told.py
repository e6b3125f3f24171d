"""What the host was last told of each HubSpot ticket, whichever way the change came.

Webhooks and polling record the tracked values they hand on in one place
(``hubspot_polled_tickets``), so after the admin switches from one to the other a change
the host already heard of is not handed on again: a poll compares HubSpot's values with
what the host was told by either, and a late webhook for a value a poll already reported
finds it there.

Each value is kept with the time (epoch ms, HubSpot's clock) as of which it is current: a
poll's values are current as of the ticket's ``hs_lastmodifieddate``, a webhook's as of its
``occurredAt``. HubSpot may deliver a webhook after a poll (or a later webhook) already told
the host a newer value of the same property; handing it on would take the host back to an
older value, so it is stale. The times are kept per property because an event for one
property says nothing about another: an older change of the priority is still news after a
newer change of the subject was handed on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from skypanel_hubspot_plugin.webhooks.echo import panel_writes
from skypanel_hubspot_plugin.webhooks.table import PolledTicket

#: The ticket properties a poll reads and reports when they change.
TRACKED = ("hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "subject")
#: Where a record keeps the per-property times, inside its ``properties`` JSON: no HubSpot
#: property name (lowercase letters, digits, underscores) can take this key.
AS_OF = "@as_of"


@dataclass(frozen=True)
class Told:
    """One record: the tracked values the host knows, and per property the time (epoch ms)
    as of which that value is current (records written before the times were kept have
    none, and nothing is stale for them)."""

    values: dict[str, str]
    as_of: dict[str, int]

    def is_stale(self, name: str, at_ms: int) -> bool:
        """True when the host holds a value of ``name`` current as of a time later than
        ``at_ms``: a change that occurred at ``at_ms`` is older than what it knows."""
        return self.as_of.get(name, at_ms) > at_ms

    def text(self) -> str:
        """The record's ``properties`` column."""
        return json.dumps({**self.values, AS_OF: self.as_of}, sort_keys=True)


def read(text: str) -> Told:
    """A record's ``properties`` column; a record without times (or with unreadable ones)
    reads as one without."""
    data = json.loads(text)
    times = data.pop(AS_OF, None) if isinstance(data, dict) else None
    values = {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
    as_of = (
        {k: v for k, v in times.items() if isinstance(v, int) and not isinstance(v, bool)}
        if isinstance(times, dict)
        else {}
    )
    return Told(values, as_of)


def poll_record(values: Mapping[str, str], modified_ms: int) -> Told:
    """What a poll tells: every tracked value HubSpot holds, each current as of the ticket's
    modification time (the poll read them all, so even a property it found empty is)."""
    return Told(
        {k: v for k, v in values.items() if k in TRACKED}, dict.fromkeys(TRACKED, modified_ms)
    )


def already_told(
    session: Session, hubspot_id: str, panel_id: str, name: str, value: str, at_ms: int
) -> bool:
    """True when a change of ``name`` to ``value`` that occurred at ``at_ms`` tells the host
    nothing: it already holds a newer value of ``name`` (the change is stale), or its last
    word on ``name`` is ``value`` and the panel has not written the property since (a panel
    write makes that word stale)."""
    found = session.get(PolledTicket, hubspot_id)
    if found is None:
        return False
    told = read(found.properties)
    if told.is_stale(name, at_ms):
        return True
    if told.values.get(name) != value:
        return False
    return name not in panel_writes(session, panel_id, found.modified_ms).ours


def remember(
    session: Session, hubspot_id: str, panel_id: str, values: Mapping[str, str], at_ms: int
) -> bool:
    """Records that HubSpot's ticket holds ``values`` (tracked ones) as of ``at_ms``, in the
    caller's transaction, leaving any property the record knows a newer value of; False
    when another transaction changed the record meanwhile (the caller rolls back and tries
    again)."""
    values = {k: v for k, v in values.items() if k in TRACKED}
    if not values:
        return True
    found = session.get(PolledTicket, hubspot_id)
    if found is None:
        # The first word: what the plugin sent is what the host knows of the rest.
        sent = panel_writes(session, panel_id, None).sent
        known = {k: v for k, v in sent.items() if k in TRACKED} | values
        told = Told(known, dict.fromkeys(values, at_ms))
        session.add(PolledTicket(hubspot_id=hubspot_id, modified_ms=at_ms, properties=told.text()))
        try:
            session.flush()
        except IntegrityError:  # a poll (another transaction) wrote the first word meanwhile
            return False
        return True
    told = read(found.properties)
    newer = {k: v for k, v in values.items() if not told.is_stale(k, at_ms)}
    told = Told(told.values | newer, told.as_of | dict.fromkeys(newer, at_ms))
    result = session.exec(
        update(PolledTicket)
        .where(
            col(PolledTicket.hubspot_id) == hubspot_id,
            col(PolledTicket.modified_ms) == found.modified_ms,
            col(PolledTicket.properties) == found.properties,
        )
        .values(modified_ms=max(found.modified_ms, at_ms), properties=told.text())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)
