"""Who owns each mapped property when a write goes out: which of its properties are sent.

The admin gives each row of a property map a mode (see
:mod:`skypanel_hubspot_plugin.settings.property_map`). Delivery reads them here, as the
settings say at that moment:

- ``overwrite``: sent on every write (the panel owns the property).
- ``fill_if_empty``: sent only when HubSpot's current value is empty, read by one batch
  read per batch just before the write; what a HubSpot user typed is kept.
- ``on_create``: sent only in the request that creates the record. An upsert cannot say
  beforehand whether it will create, so the same batch read tells which records exist: those
  that do are written without these properties. Should a record vanish between the read and
  the write (the upsert then creates it), the withheld properties follow in one update.

Identifier properties (a contact's email, a ticket's ``skypanel_ticket_id``) are always
``overwrite``: the property map refuses any other mode for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.service import BatchResult, CrmObject, HubSpotService
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.settings.property_map import FILL_IF_EMPTY, ON_CREATE, Mode

#: Runs one HubSpot call for the records being delivered (under the rate limit and their
#: lease): ``call(fn, *args)`` is ``fn(*args)``.
Call = Callable[..., Any]


@dataclass(frozen=True)
class Ownership:
    """HubSpot property → mode, for each object type's properties that are not ``overwrite``."""

    contacts: Mapping[str, Mode] = field(default_factory=dict)
    tickets: Mapping[str, Mode] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: HubSpotSettings) -> Ownership:
        return cls(
            contacts=settings.contact_property_map.property_modes(),
            tickets=settings.ticket_property_map.property_modes(),
        )


def owned(props: Mapping[str, str], modes: Mapping[str, Mode]) -> list[str]:
    """The properties of ``props`` whose sending depends on the record in HubSpot."""
    return [name for name in props if name in modes]


def to_fill(props: Mapping[str, str], modes: Mapping[str, Mode]) -> list[str]:
    """The ``fill_if_empty`` properties of ``props``: those whose current value must be read
    before writing a record known to exist."""
    return [name for name in props if modes.get(name) == FILL_IF_EMPTY]


def is_empty(value: object) -> bool:
    return value is None or value == ""


def for_existing(
    props: Mapping[str, str],
    modes: Mapping[str, Mode],
    current: Mapping[str, str | None],
) -> dict[str, str]:
    """What to write to a record that exists and holds ``current``: no ``on_create``
    property, and a ``fill_if_empty`` one only where ``current`` is empty."""
    sent: dict[str, str] = {}
    for name, value in props.items():
        mode = modes.get(name)
        if mode == ON_CREATE:
            continue
        if mode == FILL_IF_EMPTY and not is_empty(current.get(name)):
            continue
        sent[name] = value
    return sent


def withheld(props: Mapping[str, str], sent: Mapping[str, str]) -> dict[str, str]:
    """What ``for_existing`` left out: sent after all if the record turns out to be new."""
    return {name: value for name, value in props.items() if name not in sent}


# -- reading before writing -------------------------------------------------------------------


def owned_updates(
    call: Call,
    service: HubSpotService,
    modes: Mapping[str, Mode],
    updates: list[tuple[str, dict[str, str]]],
) -> list[tuple[str, dict[str, str]]]:
    """Updates of existing contacts (id, properties) as the modes allow: no ``on_create``
    property, and ``fill_if_empty`` ones only where HubSpot's value is empty (one batch read
    of the contacts that carry one). An update may come back empty."""
    if not any(owned(props, modes) for _, props in updates):
        return updates
    filling = sorted({name for _, props in updates for name in to_fill(props, modes)})
    current: dict[str, dict[str, str | None]] = {}
    if filling:
        ids = [contact_id for contact_id, props in updates if to_fill(props, modes)]
        read: BatchResult = call(service.read_contacts, ids, filling)
        current = {c.id: c.properties for c in read.results}
    return [(cid, for_existing(props, modes, current.get(cid, {}))) for cid, props in updates]


def owned_upserts(
    call: Call,
    service: HubSpotService,
    modes: Mapping[str, Mode],
    merged: dict[str, dict[str, str]],
) -> dict[str, dict[str, str]]:
    """Narrows ``merged`` (email → properties of an upsert by email) in place to what the
    modes allow, after one batch read by email of the contacts that carry owned properties:
    one that exists gets no ``on_create`` property and no ``fill_if_empty`` one HubSpot
    holds a value for; one that does not gets everything (the upsert creates it). Returns
    what was held back, by email, to send should the upsert create it after all."""
    asked = [email for email, props in merged.items() if owned(props, modes)]
    if not asked:
        return {}
    names = sorted({name for email in asked for name in owned(merged[email], modes)})
    read: BatchResult = call(
        partial(service.read_contacts, id_property=api.EMAIL_PROPERTY), asked, names
    )
    found = {
        str(c.properties.get(api.EMAIL_PROPERTY) or "").lower(): c.properties for c in read.results
    }
    held: dict[str, dict[str, str]] = {}
    for email in asked:
        current = found.get(email.lower())
        if current is None:
            continue
        sent = for_existing(merged[email], modes, current)
        held[email.lower()] = withheld(merged[email], sent)
        merged[email] = sent
    return held


def created_after_all(
    results: list[CrmObject], held: Mapping[str, dict[str, str]]
) -> list[tuple[str, dict[str, str]]]:
    """The contacts an upsert created although the read had found them (gone in between),
    with what was held back from them: the plugin created them, so it is sent after all."""
    late = []
    for contact in results:
        email = str(contact.properties.get(api.EMAIL_PROPERTY) or "").lower()
        if contact.new and held.get(email):
            late.append((contact.id, held[email]))
    return late


def owned_ticket_create(
    call: Call,
    service: HubSpotService,
    modes: Mapping[str, Mode],
    panel_ticket_id: str,
    props: dict[str, str],
) -> tuple[dict[str, str], dict[str, str]]:
    """A new ticket's properties as the modes allow, and what was held back. An earlier
    attempt may have created it and lost the answer: when it carries owned properties it is
    read by the panel's ticket id first, and one found is written as existing."""
    names = owned(props, modes)
    if not names:
        return props, {}
    read: BatchResult = call(
        partial(service.read_tickets, id_property=api.TICKET_ID_PROPERTY),
        [panel_ticket_id],
        names,
    )
    if not read.results:
        return props, {}
    sent = for_existing(props, modes, read.results[0].properties)
    return sent, withheld(props, sent)


def owned_ticket_update(
    call: Call,
    service: HubSpotService,
    modes: Mapping[str, Mode],
    ticket_id: str,
    props: dict[str, str],
) -> dict[str, str]:
    """An existing ticket's changes as the modes allow (one read for ``fill_if_empty``)."""
    if not owned(props, modes):
        return props
    current: dict[str, str | None] = {}
    filling = to_fill(props, modes)
    if filling:
        read: BatchResult = call(service.read_tickets, [ticket_id], filling)
        current = read.results[0].properties if read.results else {}
    return for_existing(props, modes, current)
