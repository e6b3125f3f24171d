"""Whether a change HubSpot reports is the plugin's own write coming back.

The plugin writes tickets to HubSpot, and HubSpot reports those writes like any other
change (a webhook with ``changeSource`` INTEGRATION, a newer ``hs_lastmodifieddate`` in a
search). Handing them to the host would echo the panel's own values back to it. A change
is an echo when it comes from an integration rather than a person (webhooks say so in
``changeSource``; for polling, the panel recorded a change of the ticket since the version
last seen) and every property it names holds the value the panel last recorded for that
property in the outbox (delivered or still on its way): it tells the panel nothing new.
An agent who moves a ticket back to the panel's value is not an echo.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow


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


#: ``changeSource`` values of writes made through the API (the plugin's among them); HubSpot
#: names changes made by people otherwise (CRM_UI, MOBILE_IOS, …).
API_SOURCES = frozenset({"INTEGRATION", "API", ""})


@dataclass(frozen=True)
class PanelWrites:
    """What the plugin wrote to a ticket: ``sent`` is the newest delivered value of each
    property (what HubSpot holds unless someone else changed it); ``ours`` holds, per
    property, each value the plugin may be writing right now or wrote since a moment."""

    sent: dict[str, str]
    ours: dict[str, set[str]]

    def is_ours(self, name: str, value: str) -> bool:
        return value in self.ours.get(name, ())


def panel_writes(session: Session, panel_id: str, since_ms: int | None) -> PanelWrites:
    """The plugin's writes to a ticket; ``ours`` counts rows not delivered yet (they may be
    in flight) and, when ``since_ms`` is given, rows recorded after it (epoch ms)."""
    since = datetime.fromtimestamp(since_ms / 1000, UTC) if since_ms is not None else None
    rows = session.exec(
        select(OutboxRow.payload, OutboxRow.status, OutboxRow.created_at)
        .where(col(OutboxRow.entity) == f"ticket:{panel_id}", col(OutboxRow.status) != DEAD)
        .order_by(col(OutboxRow.id))
    )
    sent: dict[str, str] = {}
    ours: dict[str, set[str]] = {}
    for payload, status, created_at in rows:
        properties = json.loads(payload).get("properties")
        if not isinstance(properties, dict):
            continue
        values = {k: str(v) for k, v in properties.items() if v is not None}
        if status == DELIVERED:
            sent.update(values)
        recent = since is not None and _aware(created_at) > since
        if status != DELIVERED or recent:
            for name, value in values.items():
                ours.setdefault(name, set()).add(value)
    return PanelWrites(sent, ours)


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_echo(
    session: Session, panel_id: str, changes: Mapping[str, str], change_source: str
) -> bool:
    """True when a webhook's ``changes`` came through the API and match what the panel
    recorded, property by property."""
    if not changes or change_source.upper() not in API_SOURCES:
        return False
    sent = panel_values(session, panel_id)
    return all(sent.get(name) == value for name, value in changes.items())
