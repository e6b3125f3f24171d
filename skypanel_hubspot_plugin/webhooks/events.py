"""HubSpot's webhook events: parsed, and each ticket change handed to the host once.

Each event about a ticket the plugin created is recorded by its ``eventId`` and handed
to the host's ``skypanel_on_hubspot_ticket_changed`` in one transaction, so an event
HubSpot delivers twice fires the hook once; events about other objects are acknowledged
and ignored. The route that receives them is :mod:`skypanel_hubspot_plugin.admin.webhook_route`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_body import parse_json
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.mapping.ticket_fields import STAGE_STATUSES
from skypanel_hubspot_plugin.payloads import TicketChange
from skypanel_hubspot_plugin.webhooks.table import WebhookEvent

log = logging.getLogger(__name__)

MAX_EVENTS = 1000
TICKET_EVENTS = ("ticket.propertyChange", "ticket.deletion")


@dataclass(frozen=True)
class Event:
    """One entry of HubSpot's webhook array, checked."""

    event_id: str
    subscription_type: str
    object_id: str
    portal_id: str
    occurred_at_ms: int
    property_name: str | None
    property_value: str | None
    change_source: str


def _id(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidInput({f"{where}.{key}": "must be a numeric id"})
    if len(str(value)) > 30:
        raise InvalidInput({f"{where}.{key}": "is too long"})
    return str(value)


def parse_events(body: bytes) -> list[Event]:
    """HubSpot's event array; raises InvalidInput naming the first bad entry."""
    data = parse_json(body, expected="HubSpot's JSON array of events")
    if not isinstance(data, list) or not data or len(data) > MAX_EVENTS:
        raise InvalidInput({"body": f"must be a JSON array of 1 to {MAX_EVENTS} events"})
    events = []
    for i, raw in enumerate(data):
        where = f"[{i}]"
        if not isinstance(raw, dict):
            raise InvalidInput({where: "must be an event object"})
        kind = raw.get("subscriptionType")
        occurred = raw.get("occurredAt")
        if not isinstance(kind, str) or not 0 < len(kind) <= 100:
            raise InvalidInput({f"{where}.subscriptionType": "must be text"})
        if isinstance(occurred, bool) or not isinstance(occurred, int):
            raise InvalidInput({f"{where}.occurredAt": "must be a time in milliseconds"})
        name, value = raw.get("propertyName"), raw.get("propertyValue")
        if kind.endswith(".propertyChange") and not (
            isinstance(name, str) and isinstance(value, str | int | float)
        ):
            raise InvalidInput({f"{where}.propertyName": "must name the changed property"})
        source = raw.get("changeSource")
        events.append(
            Event(
                event_id=_id(raw, "eventId", where),
                subscription_type=kind,
                object_id=_id(raw, "objectId", where),
                portal_id=_id(raw, "portalId", where),
                occurred_at_ms=occurred,
                property_name=name if isinstance(name, str) else None,
                property_value=None if value is None else str(value),
                change_source=source if isinstance(source, str) else "",
            )
        )
    return events


def handle_event(outbox: Outbox, plugin_manager: Any, portal_id: str, event: Event) -> bool:
    """Fires the host hook for one event; False when the event is not ours or already seen."""
    if event.portal_id != portal_id or event.subscription_type not in TICKET_EVENTS:
        return False
    panel_id = outbox.panel_id("ticket", event.object_id)
    if panel_id is None:
        return False
    change = _change(panel_id, event)
    with Session(outbox.engine) as session:
        session.add(
            WebhookEvent(
                event_id=event.event_id,
                object_id=event.object_id,
                subscription_type=event.subscription_type,
            )
        )
        try:
            session.flush()  # a second delivery of this event stops here, before the hook
        except IntegrityError:
            session.rollback()
            log.debug("HubSpot event %s already handled", event.event_id)
            return False
        _fire(plugin_manager, change, session)
        session.commit()
    return True


def _change(panel_id: str, event: Event) -> TicketChange:
    changes: dict[str, str] = {}
    if event.property_name is not None and event.property_value is not None:
        changes[event.property_name] = event.property_value
    stage = changes.get("hs_pipeline_stage")
    return TicketChange(
        ticket_id=panel_id,
        hubspot_ticket_id=event.object_id,
        event_id=event.event_id,
        occurred_at_ms=event.occurred_at_ms,
        changes=changes,
        status=STAGE_STATUSES.get(stage) if stage else None,
        deleted=event.subscription_type == "ticket.deletion",
        change_source=event.change_source,
    )


def _fire(pm: Any, change: TicketChange, session: Session) -> None:
    if pm is None:
        log.error(
            "HubSpot ticket %s changed, but the host gave no plugin_manager to tell",
            change.hubspot_ticket_id,
        )
        return
    pm.hook.skypanel_on_hubspot_ticket_changed(change=change, session=session)
