"""HubSpot's webhook events: parsed, and each ticket change handed to the host once.

Two formats arrive for tickets: the legacy one (``ticket.propertyChange``,
``ticket.deletion``, …) that legacy private and public apps send, and the generic one
(``object.propertyChange``, ``object.creation``, ``object.deletion``, ``object.merge``,
``object.restore`` with ``objectTypeId`` ``0-5``) of apps on HubSpot's current developer
platform. Both are read into one :class:`Event`.

Each event about a ticket the plugin created is recorded by its ``eventId`` and handed to
the host's ``skypanel_on_hubspot_ticket_changed`` in one transaction, so an event HubSpot
delivers twice fires the hook once. Events about other objects, tickets the plugin did not
create and the plugin's own writes coming back are acknowledged and ignored. The route
that receives them is :mod:`skypanel_hubspot_plugin.admin.webhook_route`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_body import parse_json
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.mapping.ticket_fields import status_of_stage
from skypanel_hubspot_plugin.payloads import TicketChange
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.webhooks.echo import is_echo
from skypanel_hubspot_plugin.webhooks.links import merge_owner, panel_ticket_of, record_merge
from skypanel_hubspot_plugin.webhooks.receiver import NoReceiver, receiver_problem
from skypanel_hubspot_plugin.webhooks.table import WebhookEvent
from skypanel_hubspot_plugin.webhooks.told import already_told, remember

log = logging.getLogger(__name__)

MAX_EVENTS = 1000
MAX_MERGED = 100
#: HubSpot's object type id of tickets in the generic format.
TICKET_TYPE_ID = "0-5"
PROPERTY_CHANGE = "propertyChange"
CREATION = "creation"
DELETION = "deletion"
MERGE = "merge"
RESTORE = "restore"
#: The actions of ticket events the host hears about (creations are the plugin's own).
HANDLED_ACTIONS = (PROPERTY_CHANGE, DELETION, MERGE, RESTORE)
#: Subscription types a metric names as they are; any other is counted as ``other``.
KNOWN_OBJECTS = ("ticket", "contact", "company", "deal", "object", "conversation")
KNOWN_ACTIONS = (*HANDLED_ACTIONS, CREATION, "associationChange", "privacyDeletion")


def event_type(subscription_type: str) -> str:
    """``subscription_type`` when it is one HubSpot sends (``ticket.propertyChange``), else
    ``other``: a label for the metrics, from a fixed list."""
    prefix, _, action = subscription_type.partition(".")
    return subscription_type if prefix in KNOWN_OBJECTS and action in KNOWN_ACTIONS else "other"


@dataclass(frozen=True)
class Event:
    """One entry of HubSpot's webhook array, checked, in either format."""

    event_id: str
    subscription_type: str
    object_id: str
    portal_id: str
    occurred_at_ms: int
    property_name: str | None
    property_value: str | None
    change_source: str
    object_type_id: str | None = None
    primary_object_id: str | None = None
    merged_object_ids: tuple[str, ...] = ()
    new_object_id: str | None = None
    #: Of an ``associationChange``: the other record, its type (generic format: an object
    #: type id like 0-49; legacy: the association type's name like TICKET_TO_CONTACT), and
    #: whether the association was removed.
    to_object_id: str | None = None
    to_object_type: str | None = None
    association_removed: bool = False

    @property
    def action(self) -> str:
        """``propertyChange``, ``deletion``, ``merge``, … whatever the format."""
        return self.subscription_type.partition(".")[2]

    @property
    def is_ticket(self) -> bool:
        """A legacy ``ticket.*`` event, or a generic ``object.*`` one about object type 0-5."""
        prefix = self.subscription_type.partition(".")[0]
        return prefix == "ticket" or (prefix == "object" and self.object_type_id == TICKET_TYPE_ID)

    @property
    def surviving_id(self) -> str:
        """The id a merge leaves: the new object's when HubSpot made one, else the primary's."""
        return self.new_object_id or self.primary_object_id or self.object_id

    @property
    def named_ids(self) -> tuple[str, ...]:
        """The tickets a merge names, primary first: the only ones whose links it may move
        (``objectId`` counts only when HubSpot leaves the primary out)."""
        named = (
            self.primary_object_id or self.object_id,
            *self.merged_object_ids,
            *((self.new_object_id,) if self.new_object_id else ()),
        )
        return tuple(dict.fromkeys(named))


#: HubSpot's ids: ASCII digits only (``str.isdigit`` also accepts "¹²" and "٣").
ID = re.compile(r"[0-9]+", re.ASCII)
MAX_ID_DIGITS = 30


def _id(raw: Mapping[str, Any], key: str, where: str) -> str:
    """The id at ``key`` as canonical digits ("0042" and 42 are one id), or InvalidInput."""
    value = raw.get(key)
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not ID.fullmatch(text):
        raise InvalidInput({f"{where}.{key}": "must be a numeric id (ASCII digits)"})
    if len(text) > MAX_ID_DIGITS:
        raise InvalidInput({f"{where}.{key}": "is too long"})
    return str(int(text))


def _optional_id(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if raw.get(key) is None else _id(raw, key, where)


def _merged_ids(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    value = raw.get("mergedObjectIds")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_MERGED:
        raise InvalidInput(
            {f"{where}.mergedObjectIds": f"must be a list of at most {MAX_MERGED} ids"}
        )
    return tuple(_id({"id": v}, "id", f"{where}.mergedObjectIds") for v in value)


def _object_type_id(raw: Mapping[str, Any], kind: str, where: str) -> str | None:
    # An association change names the types of both ends instead of its own.
    value = raw.get("objectTypeId", raw.get("fromObjectTypeId"))
    if value is None:
        if kind.startswith("object."):
            raise InvalidInput({f"{where}.objectTypeId": "is required for object.* events"})
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 40:
        raise InvalidInput({f"{where}.objectTypeId": "must be an object type id like 0-5"})
    return value


def parse_events(body: bytes) -> list[Event]:
    """HubSpot's event array; raises InvalidInput naming the first bad entry."""
    data = parse_json(body, expected="HubSpot's JSON array of events")
    if not isinstance(data, list) or not data or len(data) > MAX_EVENTS:
        raise InvalidInput({"body": f"must be a JSON array of 1 to {MAX_EVENTS} events"})
    return [_event(raw, f"[{i}]") for i, raw in enumerate(data)]


def _event(raw: object, where: str) -> Event:
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
    association = kind.endswith(".associationChange")
    to_type = raw.get("toObjectTypeId", raw.get("associationType")) if association else None
    if association and not (isinstance(to_type, str) and 0 < len(to_type) <= 100):
        raise InvalidInput({f"{where}.toObjectTypeId": "must name the associated object type"})
    return Event(
        event_id=_id(raw, "eventId", where),
        subscription_type=kind,
        # An association change is about its ``fromObjectId`` (it has no ``objectId``).
        object_id=_id(
            raw, "fromObjectId" if association and "objectId" not in raw else "objectId", where
        ),
        portal_id=_id(raw, "portalId", where),
        occurred_at_ms=occurred,
        property_name=name if isinstance(name, str) else None,
        property_value=None if value is None else str(value),
        change_source=source if isinstance(source, str) else "",
        object_type_id=_object_type_id(raw, kind, where),
        primary_object_id=_optional_id(raw, "primaryObjectId", where),
        merged_object_ids=_merged_ids(raw, where),
        new_object_id=_optional_id(raw, "newObjectId", where),
        to_object_id=_id(raw, "toObjectId", where) if association else None,
        to_object_type=to_type if isinstance(to_type, str) else None,
        association_removed=raw.get("associationRemoved") is True,
    )


def handle_event(
    outbox: Outbox, plugin_manager: Any, settings: HubSpotSettings, event: Event
) -> bool:
    """Fires the host hook for one event; False when the event is not ours, already seen,
    already told or stale (a poll or a later event reported this value or a newer one), or
    the plugin's own write coming back. Raises NoReceiver when the host has no hook to hand
    it to."""
    if (
        event.portal_id != settings.portal_id
        or not event.is_ticket
        or event.action not in HANDLED_ACTIONS
    ):
        return False
    for _ in range(TRIES):
        handled = _handle_once(outbox, plugin_manager, settings, event)
        if handled is not None:
            return handled
    raise RuntimeError(f"HubSpot event {event.event_id}: the ticket kept changing; try again")


#: Attempts at an event whose ticket record another transaction changed meanwhile.
TRIES = 3


def _handle_once(
    outbox: Outbox, plugin_manager: Any, settings: HubSpotSettings, event: Event
) -> bool | None:
    """One attempt in one transaction; None when it lost a race and must be tried again."""
    with Session(outbox.engine) as session:
        panel_id = (
            merge_owner(session, event.named_ids, event.surviving_id)
            if event.action == MERGE
            else panel_ticket_of(session, event.object_id)
        )
        if panel_id is None:
            return False
        change = _change(panel_id, event, settings)
        at = event.occurred_at_ms
        if event.action == PROPERTY_CHANGE and is_echo(
            session, panel_id, change.changes, event.change_source
        ):
            log.debug("HubSpot event %s is the plugin's own write; ignored", event.event_id)
            if not remember(session, event.object_id, panel_id, change.changes, at):
                return None
            session.commit()  # what HubSpot holds now, for the next change's comparison
            return False
        session.add(
            WebhookEvent(
                event_id=event.event_id,
                object_id=event.object_id,
                subscription_type=event.subscription_type[:100],
            )
        )
        try:
            session.flush()  # a second delivery of this event stops here, before the hook
        except IntegrityError:
            session.rollback()
            log.debug("HubSpot event %s already handled", event.event_id)
            return False
        if event.action == PROPERTY_CHANGE:
            [(name, value)] = change.changes.items()
            told = already_told(session, event.object_id, panel_id, name, value, at)
            if not remember(session, event.object_id, panel_id, change.changes, at):
                session.rollback()
                return None
            if told:
                # A poll (or a later event) told the host this value or a newer one: handing
                # it on would repeat it, or take the host back to an older value.
                session.commit()
                log.debug(
                    "HubSpot event %s: the host has this value or a newer one", event.event_id
                )
                return False
        if event.action == MERGE:
            record_merge(session, panel_id, event.named_ids, event.surviving_id)
        fire(plugin_manager, change, session)
        session.commit()
    return True


def _change(panel_id: str, event: Event, settings: HubSpotSettings) -> TicketChange:
    changes: dict[str, str] = {}
    if event.property_name is not None and event.property_value is not None:
        changes[event.property_name] = event.property_value
    stage = changes.get("hs_pipeline_stage")
    merged = tuple(
        i
        for i in (event.primary_object_id, *event.merged_object_ids)
        if i and i != event.surviving_id
    )
    return TicketChange(
        ticket_id=panel_id,
        hubspot_ticket_id=event.surviving_id if event.action == MERGE else event.object_id,
        event_id=event.event_id,
        occurred_at_ms=event.occurred_at_ms,
        changes=changes,
        status=status_of_stage(settings, stage) if stage else None,
        deleted=event.action == DELETION,
        change_source=event.change_source,
        kind=event.action,
        merged_ids=merged if event.action == MERGE else (),
    )


def fire(pm: Any, change: TicketChange, session: Session) -> None:
    """Hands one change to the host's hook, inside ``session`` (the caller commits); raises
    NoReceiver, for the caller to roll back, when the host has no hook to hand it to."""
    problem = receiver_problem(pm)
    if problem is not None:
        raise NoReceiver(problem)
    pm.hook.skypanel_on_hubspot_ticket_changed(change=change, session=session)
