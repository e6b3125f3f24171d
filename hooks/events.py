"""Panel events: each hook records one outbox row and returns; the worker talks to HubSpot."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.delivery import events
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import Ticket, TicketMessage, User

log = logging.getLogger("skypanel_hubspot_plugin.hooks")


def _safely(name: str, record: Callable[[runtime.Runtime], None], **event: Any) -> None:
    # The panel's own action has happened; HubSpot must never turn it into an error.
    try:
        record(runtime.current())
    except Exception as exc:
        replay = {
            k: sorted(v) if isinstance(v, frozenset) else dataclasses.asdict(v)
            for k, v in event.items()
        }
        log.error(
            "HubSpot event %s could not be recorded (%s: %s); to replay by hand: %s",
            name,
            type(exc).__name__,
            exc,
            json.dumps(replay, default=str),
        )


@hookimpl
def skypanel_on_user_created(user: User, session: Any | None) -> None:
    _safely("user_created", lambda rt: events.user_created(rt, user, session), user=user)


@hookimpl
def skypanel_on_user_updated(user: User, changed: frozenset[str], session: Any | None) -> None:
    _safely(
        "user_updated",
        lambda rt: events.user_updated(rt, user, changed, session),
        user=user,
        changed=changed,
    )


@hookimpl
def skypanel_on_user_deleted(user: User, session: Any | None) -> None:
    _safely("user_deleted", lambda rt: events.user_deleted(rt, user, session), user=user)


@hookimpl
def skypanel_on_ticket_created(ticket: Ticket, user: User, session: Any | None) -> None:
    _safely(
        "ticket_created",
        lambda rt: events.ticket_created(rt, ticket, user, session),
        ticket=ticket,
        user=user,
    )


@hookimpl
def skypanel_on_ticket_updated(
    ticket: Ticket, changed: frozenset[str], session: Any | None
) -> None:
    _safely(
        "ticket_updated",
        lambda rt: events.ticket_updated(rt, ticket, changed, session),
        ticket=ticket,
        changed=changed,
    )


@hookimpl
def skypanel_on_ticket_message_added(message: TicketMessage, session: Any | None) -> None:
    _safely(
        "ticket_message_added",
        lambda rt: events.ticket_message_added(rt, message, session),
        message=message,
    )
