# mypy: disable-error-code="empty-body"
"""The host side of the ``skypanel`` plugin system: what a panel fires, and when.

A panel host adopts this contract by building a plugin manager from
:func:`skypanel_hubspot_plugin.plugin_manager` (or its own ``PluginManager("skypanel")``
with ``add_hookspecs(hookspecs)``) and calling ``pm.hook.<name>(**kwargs)``. Every hook
takes keyword arguments only, so a hook can grow arguments later and an implementation
accepts just the ones it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

from skypanel_hubspot_plugin.payloads import (
    HostContext,
    HubSpotBornTicket,
    HubSpotTicketMessage,
    PageContext,
    SettingField,
    Ticket,
    TicketChange,
    TicketMessage,
    User,
    Visitor,
)

PROJECT = "skypanel"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: What ``skypanel_register_admin_routes`` hands a plugin: ``register(method, path, handler)``.
RegisterRoute = Callable[[str, str, Callable[..., Any]], None]


@hookspec
def skypanel_startup(host: HostContext) -> None:
    """Called once when the panel starts, before serving; plugins open resources here."""


@hookspec
def skypanel_shutdown() -> None:
    """Called once when the panel stops; plugins finish or release their work here."""


@hookspec
def skypanel_settings_schema() -> list[SettingField]:
    """Called when the host renders its settings UI; returns the fields a plugin owns."""


@hookspec
def skypanel_register_admin_routes(register: RegisterRoute) -> None:
    """Called once at start-up; the plugin calls ``register(method, path, handler)`` per route."""


@hookspec
def skypanel_register_public_routes(register: RegisterRoute) -> None:
    """Called once at start-up for routes anyone may call (no admin check, no CSRF)."""


@hookspec
def skypanel_page_head(page: PageContext) -> str | None:
    """Called for every page; returns trusted HTML to place in ``<head>``, or None.

    The chat identifies ``page.user`` as their HubSpot contact only when the host set
    ``user.email_verified``; other visitors get the anonymous chat."""


@hookspec
def skypanel_form_embed(form: str, page: PageContext) -> str | None:
    """Called where the host places a HubSpot form on a page (``form`` is "contact" or
    "ticket"); returns trusted HTML for that spot, or None."""


@hookspec
def skypanel_on_form_submitted(
    form: str, fields: Mapping[str, str], visitor: Visitor, session: Any | None
) -> None:
    """Called after the panel's own sign-up ("contact") or ticket ("ticket") form was sent;
    ``fields`` maps HubSpot property names to the values entered."""


@hookspec
def skypanel_on_user_created(user: User, session: Any | None) -> None:
    """Called after the panel creates a user, inside its transaction when ``session`` is given."""


@hookspec
def skypanel_on_user_updated(user: User, changed: frozenset[str], session: Any | None) -> None:
    """Called after the panel changes a user; ``changed`` names the fields that changed."""


@hookspec
def skypanel_on_user_deleted(user: User, session: Any | None) -> None:
    """Called after the panel deletes a user."""


@hookspec
def skypanel_on_ticket_created(ticket: Ticket, user: User, session: Any | None) -> None:
    """Called after the panel opens a support ticket for ``user``."""


@hookspec
def skypanel_on_ticket_updated(
    ticket: Ticket, changed: frozenset[str], session: Any | None
) -> None:
    """Called after the panel changes a ticket's status, priority or text."""


@hookspec
def skypanel_on_ticket_message_added(message: TicketMessage, session: Any | None) -> None:
    """Called after a customer or the panel's staff adds a message to a support ticket,
    inside the panel's transaction when ``session`` is given; it reaches the HubSpot ticket
    as an email on its timeline, once, after the ticket itself."""


@hookspec
def skypanel_on_hubspot_ticket_changed(change: TicketChange, session: Any) -> None:
    """Implemented by the host; fired once per change HubSpot reports on a ticket the plugin
    created: a webhook event, or a new version found by polling (``change.kind``).

    ``session`` is the transaction that records the change as handled: write the panel's
    ticket in it and both commit together. Raising makes HubSpot deliver the event again
    (or the next poll find the change again).
    """


@hookspec
def skypanel_on_hubspot_ticket_message(message: HubSpotTicketMessage, session: Any) -> None:
    """Implemented by the host; fired once per reply an agent writes to the customer on a
    HubSpot ticket the panel knows, in the order of the ticket's timeline. Internal notes,
    the customer's own emails and the messages the panel sent never come through here.

    ``session`` is the transaction that records the reply as handled: add the panel's
    message in it and both commit together. Raising makes the reply come again later.
    """


@hookspec(firstresult=True)
def skypanel_on_hubspot_ticket_created(ticket: HubSpotBornTicket, session: Any) -> str | None:
    """Implemented by the host when it takes tickets opened in HubSpot (setting
    ``hubspot_import_hubspot_tickets``); fired once per such ticket of a panel user.

    Create the panel ticket in ``session`` and return its id: the plugin links it to the
    HubSpot ticket in the same transaction, and from then on changes go both ways. Return
    None to leave the ticket in HubSpot (it is not offered again); raising offers it again
    later.
    """
