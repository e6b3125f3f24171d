"""Panel events → outbox rows. Called by the event hooks; never talks to HubSpot.

Each function records one row and returns. A payload that can never be delivered (no
email, a malformed one, a subject of 10 kB) is recorded already parked, with the field
named, so the admin sees it and every other event keeps flowing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.delivery.context import DeliveryContext
from skypanel_hubspot_plugin.delivery.deliverer import (
    CONTACT_DELETE,
    CONTACT_UPDATE,
    CONTACT_UPSERT,
    TICKET_CREATE,
    TICKET_MESSAGE,
    TICKET_UPDATE,
)
from skypanel_hubspot_plugin.delivery.remap import PANEL_FIELDS, panel_fields
from skypanel_hubspot_plugin.mapping.contact_fields import user_contact_properties
from skypanel_hubspot_plugin.mapping.message_fields import message_payload
from skypanel_hubspot_plugin.mapping.ticket_fields import (
    ticket_changes,
    ticket_extra_properties,
    ticket_properties,
)
from skypanel_hubspot_plugin.payloads import Ticket, TicketMessage, User

log = logging.getLogger(__name__)


def changed_fields(changed: frozenset[str], extra: Mapping[str, str]) -> frozenset[str]:
    """The panel fields a change names; ``"extra"`` stands for every key of ``extra``."""
    return changed | frozenset(extra) if "extra" in changed else changed


def _record(
    rt: DeliveryContext,
    kind: str,
    entity: str,
    build: Any,
    session: Any,
    raw: Callable[[], dict[str, Any]],
    user_id: str | None = None,
) -> None:
    """Records what ``build`` makes; ``raw`` (the event as given, for a parked row) is only
    built when ``build`` refuses it, so the usual path costs the host nothing more."""
    try:
        payload = build()
    except InvalidInput as exc:
        log.warning("HubSpot %s for %s parked: %s", kind, entity, exc)
        rt.outbox.record(
            kind, entity, {"rejected": raw()}, session, dead_reason=str(exc), user_id=user_id
        )
        return
    rt.outbox.record(kind, entity, payload, session, user_id=user_id)


def user_created(rt: DeliveryContext, user: User, session: Any) -> None:
    settings = rt.settings()
    if not settings.enabled:
        log.debug("HubSpot disabled: user %s not sent", user.id)
        return
    mapping = settings.contact_property_map
    _record(
        rt,
        CONTACT_UPSERT,
        f"user:{user.id}",
        lambda: {
            "user_id": user.id,
            "properties": user_contact_properties(user, mapping),
            PANEL_FIELDS: panel_fields(user),
        },
        session,
        lambda: dataclasses.asdict(user),
    )


def user_updated(rt: DeliveryContext, user: User, changed: frozenset[str], session: Any) -> None:
    settings = rt.settings()
    if not settings.enabled:
        log.debug("HubSpot disabled: user %s update not sent", user.id)
        return
    mapping = settings.contact_property_map
    fields = changed_fields(changed, user.extra)

    def build() -> dict[str, Any]:
        # The whole contact, for an upsert should the user not be in HubSpot yet; the
        # changed fields' mapped properties, for the update.
        contact = user_contact_properties(user, mapping)
        props = {
            mapping[f]: contact[mapping[f]]
            for f in fields
            if f in mapping and mapping[f] in contact
        }
        return {
            "user_id": user.id,
            "contact": contact,
            "properties": props,
            PANEL_FIELDS: panel_fields(user),
        }

    _record(rt, CONTACT_UPDATE, f"user:{user.id}", build, session, lambda: dataclasses.asdict(user))


def user_deleted(rt: DeliveryContext, user: User, session: Any) -> None:
    settings = rt.settings()
    if not settings.enabled or settings.user_deleted_action == "nothing":
        log.debug("HubSpot: nothing to do for deleted user %s", user.id)
        return
    rt.outbox.record(
        CONTACT_DELETE,
        f"user:{user.id}",
        {
            "user_id": user.id,
            "email": user.email.strip().lower(),
            "action": settings.user_deleted_action,
        },
        session,
    )


def ticket_created(rt: DeliveryContext, ticket: Ticket, user: User, session: Any) -> None:
    settings = rt.settings()
    if not (settings.enabled and settings.ticket_enabled):
        log.debug("HubSpot tickets disabled: ticket %s not sent", ticket.id)
        return
    _record(
        rt,
        TICKET_CREATE,
        f"ticket:{ticket.id}",
        lambda: {
            "ticket_id": ticket.id,
            "user_id": user.id,
            "contact": user_contact_properties(user, settings.contact_property_map),
            "properties": ticket_properties(ticket, settings),
        },
        session,
        lambda: {"ticket": dataclasses.asdict(ticket), "user": dataclasses.asdict(user)},
        user_id=user.id,  # outlives the payload: a GDPR delete finds the user's tickets by it
    )


def ticket_updated(
    rt: DeliveryContext, ticket: Ticket, changed: frozenset[str], session: Any
) -> None:
    settings = rt.settings()
    if not (settings.enabled and settings.ticket_enabled):
        log.debug("HubSpot tickets disabled: ticket %s update not sent", ticket.id)
        return
    fields = changed_fields(changed, ticket.extra)
    mapped = {f for f in fields if f in settings.ticket_property_map}
    if not ticket_changes(ticket, changed, settings) and not mapped:
        return
    _record(
        rt,
        TICKET_UPDATE,
        f"ticket:{ticket.id}",
        lambda: {
            "ticket_id": ticket.id,
            "properties": {
                **ticket_extra_properties(ticket, settings.ticket_property_map, mapped),
                **ticket_changes(ticket, changed, settings),
            },
        },
        session,
        lambda: {"ticket": dataclasses.asdict(ticket), "changed": sorted(changed)},
    )


def ticket_message_added(rt: DeliveryContext, message: TicketMessage, session: Any) -> None:
    """Records one message of a ticket's conversation on the ticket's own record, so it is
    delivered after the ticket's creation, in the order the panel recorded it."""
    settings = rt.settings()
    if not (settings.enabled and settings.ticket_enabled):
        log.debug("HubSpot tickets disabled: message %s not sent", message.id)
        return
    _record(
        rt,
        TICKET_MESSAGE,
        f"ticket:{message.ticket_id}",
        lambda: message_payload(message),
        session,
        lambda: {
            "message": {
                k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in dataclasses.asdict(message).items()
            }
        },
    )
