"""Checking a property map against the portal's real properties, before an admin's save.

Refused (a problem, nothing saved): a property the portal does not have, one HubSpot
computes or keeps read-only, one of a type no panel value can fill, and a built-in panel
text field (first_name, company, …) aimed at a number, date, bool or dropdown property.
Accepted with a note: a panel ``extra`` field aimed at a number, date, bool or dropdown
property. The plugin cannot know what the panel keeps there, so the note says what the
values must look like; a value HubSpot refuses parks that one delivery with HubSpot's
message naming the property, and other events keep flowing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo
from skypanel_hubspot_plugin.mapping.property_cache import CACHE, PropertyCache
from skypanel_hubspot_plugin.settings.property_map import USER_FIELDS, MapKind, quoted

if TYPE_CHECKING:
    from skypanel_hubspot_plugin.hubspot.service import HubSpotService

OBJECT_TYPES: dict[MapKind, str] = {"contact": "contacts", "ticket": "tickets"}
TEXT_TYPES = frozenset({"string", "phone_number"})
TYPE_WORDS = {
    "number": "a number",
    "bool": "a yes/no (bool) property",
    "date": "a date",
    "datetime": "a date-time",
    "enumeration": "a dropdown (enumeration)",
}
VALUE_RULES = {
    "number": "panel values must be numbers, such as 12 or 3.5",
    "bool": "panel values must be true or false",
    "date": "panel values must be dates as YYYY-MM-DD",
    "datetime": "panel values must be ISO 8601 date-times or millisecond timestamps",
}
MAX_LISTED_OPTIONS = 10


@dataclass(frozen=True)
class MapCheck:
    """What the portal says about one map: refusals and notes, each by panel field."""

    problems: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def _options_rule(prop: PropertyInfo) -> str:
    shown = ", ".join(quoted(o) for o in prop.options[:MAX_LISTED_OPTIONS])
    more = f", … ({len(prop.options)} in all)" if len(prop.options) > MAX_LISTED_OPTIONS else ""
    return f"panel values must be one of its options: {shown}{more}"


def refusal(prop: PropertyInfo) -> str | None:
    """Why no panel field can fill ``prop``, whatever the field; None when some can."""
    name = quoted(prop.name)
    if prop.read_only:
        return f"property {name} is read-only"
    if prop.type in TEXT_TYPES:
        return None
    if prop.type not in TYPE_WORDS:
        return (
            f"property {name} is of type {quoted(prop.type)}, which panel values "
            "cannot fill; choose a text, number, date, bool or dropdown property"
        )
    if prop.type == "enumeration" and not prop.options:
        return f"property {name} is a dropdown with no options"
    return None


def check_map(
    mapping: Mapping[str, str], kind: MapKind, properties: Mapping[str, PropertyInfo]
) -> MapCheck:
    """Checks each entry of ``mapping`` against the portal's ``properties`` of that object type."""
    result = MapCheck()
    for panel_field, name in mapping.items():
        prop = properties.get(name)
        if prop is None:
            result.problems[panel_field] = f"HubSpot has no {kind} property {quoted(name)}"
        elif (refused := refusal(prop)) is not None:
            result.problems[panel_field] = refused
        elif prop.type in TEXT_TYPES:
            continue
        elif kind == "contact" and panel_field in USER_FIELDS:
            result.problems[panel_field] = (
                f"property {quoted(name)} is {TYPE_WORDS[prop.type]}, not text — "
                f"the panel's {panel_field} is text"
            )
        else:
            rule = _options_rule(prop) if prop.type == "enumeration" else VALUE_RULES[prop.type]
            result.notes[panel_field] = (
                f"property {quoted(name)} is {TYPE_WORDS[prop.type]}, not text — {rule}"
            )
    return result


def check_against_portal(
    service: HubSpotService,
    maps: Mapping[MapKind, Mapping[str, str]],
    cache: PropertyCache = CACHE,
) -> dict[MapKind, MapCheck]:
    """Checks each map against the portal's properties; raises HubSpotError if HubSpot fails.

    A list served from the cache that lacks a mapped property is fetched again once, so a
    property created in HubSpot a moment ago is not reported missing.
    """
    results: dict[MapKind, MapCheck] = {}
    for kind, mapping in maps.items():
        object_type = OBJECT_TYPES[kind]
        properties, cached = cache.get(service, object_type)
        if cached and any(name not in properties for name in mapping.values()):
            properties, _ = cache.get(service, object_type, fresh=True)
        results[kind] = check_map(mapping, kind, properties)
    return results
