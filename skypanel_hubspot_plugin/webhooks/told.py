"""What the host was last told of each HubSpot ticket, whichever way the change came.

Webhooks and polling record the tracked values they hand on in one place
(``hubspot_polled_tickets``), so after the admin switches from one to the other a change
the host already heard of is not handed on again: a poll compares HubSpot's values with
what the host was told by either, and a late webhook for a value a poll already reported
finds it there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import update
from sqlmodel import Session, col

from skypanel_hubspot_plugin.webhooks.echo import panel_writes
from skypanel_hubspot_plugin.webhooks.table import PolledTicket

#: The ticket properties a poll reads and reports when they change.
TRACKED = ("hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "subject")


def already_told(session: Session, hubspot_id: str, panel_id: str, name: str, value: str) -> bool:
    """True when the host's last word on ``name`` of this ticket is ``value`` and the panel
    has not written the property since (a panel write makes that word stale)."""
    told = session.get(PolledTicket, hubspot_id)
    if told is None or json.loads(told.properties).get(name) != value:
        return False
    return name not in panel_writes(session, panel_id, told.modified_ms).ours


def remember(
    session: Session, hubspot_id: str, panel_id: str, values: Mapping[str, str], at_ms: int
) -> bool:
    """Records that HubSpot's ticket holds ``values`` (tracked ones) as of ``at_ms``, in the
    caller's transaction; False when another transaction changed the record meanwhile (the
    caller rolls back and tries again)."""
    values = {k: v for k, v in values.items() if k in TRACKED}
    if not values:
        return True
    told = session.get(PolledTicket, hubspot_id)
    if told is None:
        # The first word: what the plugin sent is what the host knows of the rest.
        known = dict(panel_writes(session, panel_id, None).sent)
        known = {k: v for k, v in known.items() if k in TRACKED} | dict(values)
        session.add(PolledTicket(hubspot_id=hubspot_id, modified_ms=at_ms, properties=_text(known)))
        return True
    known = json.loads(told.properties) | dict(values)
    result = session.exec(
        update(PolledTicket)
        .where(
            col(PolledTicket.hubspot_id) == hubspot_id,
            col(PolledTicket.modified_ms) == told.modified_ms,
            col(PolledTicket.properties) == told.properties,
        )
        .values(modified_ms=max(told.modified_ms, at_ms), properties=_text(known))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


def _text(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values), sort_keys=True)
