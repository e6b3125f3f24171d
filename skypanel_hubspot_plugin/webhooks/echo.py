"""Whether a change HubSpot reports is the plugin's own write coming back.

The plugin writes tickets to HubSpot, and HubSpot reports those writes like any other
change (a webhook with ``changeSource`` INTEGRATION, a newer ``hs_lastmodifieddate`` in a
search). Handing them to the host would echo the panel's own values back to it. A change
is an echo when every property it names holds the value the panel last recorded for that
property in the outbox (delivered or still on its way): it tells the panel nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, OutboxRow


def panel_values(session: Session, panel_id: str) -> dict[str, str]:
    """The HubSpot properties the panel last recorded for its ticket, newest value each."""
    rows = session.exec(
        select(OutboxRow.payload)
        .where(col(OutboxRow.entity) == f"ticket:{panel_id}", col(OutboxRow.status) != DEAD)
        .order_by(col(OutboxRow.id))
    )
    values: dict[str, str] = {}
    for payload in rows:
        properties = json.loads(payload).get("properties")
        if isinstance(properties, dict):
            values.update({k: str(v) for k, v in properties.items() if v is not None})
    return values


def is_echo(session: Session, panel_id: str, changes: Mapping[str, str]) -> bool:
    """True when ``changes`` is non-empty and matches what the panel sent, property by property."""
    if not changes:
        return False
    sent = panel_values(session, panel_id)
    return all(sent.get(name) == value for name, value in changes.items())
