"""Which panel field fills which HubSpot property: the two property-map settings and their shape rules.

An admin maps panel user fields (the built-in ones and the panel's own ``User.extra`` keys)
to contact properties, and ``Ticket.extra`` keys to ticket properties. The shape is checked
here, offline, on every save and every load; whether the properties exist in the portal,
can be written and take text is :mod:`property_map_check`'s job, when an admin saves.

Each row also says who owns the property (its *mode*): the panel (``overwrite``, the
default), HubSpot's users once it holds a value (``fill_if_empty``), or HubSpot's users once
the plugin created the record (``on_create``). A row is written ``"field": "property"`` when
the panel owns it, so every map stored before modes existed reads as it always did, and
``"field": {"property": "…", "mode": "…"}`` otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, cast

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_body import parse_bounded_json
from skypanel_hubspot_plugin.hubspot import api as api

PANEL_FIELD_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
PROPERTY_NAME_RE = re.compile(r"[a-z0-9_]{1,100}")
MAX_ENTRIES = 50
MAP_SHAPE = (
    'a JSON object of panel field → HubSpot property, like {"plan": "plan_tier"} or '
    '{"plan": {"property": "plan_tier", "mode": "fill_if_empty"}}'
)
NOT_AN_OBJECT = f"must be {MAP_SHAPE}"
#: Bounds of every JSON-valued setting, however it was written: a map of MAX_ENTRIES
#: fields with the longest names fits in MAX_JSON_CHARS; none nests more than one level.
MAX_JSON_CHARS = 16_384
MAX_JSON_DEPTH = 3

#: The panel's built-in user fields (``User`` attributes); any other name is a ``User.extra`` key.
USER_FIELDS = ("email", "first_name", "last_name", "company", "phone")
#: The panel's built-in ticket fields; the plugin maps these itself (see ``ticket_fields``).
TICKET_FIELDS = ("subject", "content", "priority", "category", "status")
#: Ticket properties the plugin sets from the ticket itself; a map may not overwrite them.
TICKET_PROPERTIES_SET_BY_PLUGIN = (*api.TICKET_PROPERTIES, api.TICKET_ID_PROPERTY)

MapKind = Literal["contact", "ticket"]

#: Who owns a mapped property, i.e. when a delivery writes it:
#: ``overwrite`` on every delivery (the panel owns it; the default);
#: ``fill_if_empty`` only while HubSpot's current value is empty;
#: ``on_create`` only in the request that creates the HubSpot record.
Mode = Literal["overwrite", "fill_if_empty", "on_create"]
OVERWRITE: Mode = "overwrite"
FILL_IF_EMPTY: Mode = "fill_if_empty"
ON_CREATE: Mode = "on_create"
MODES: tuple[Mode, ...] = (OVERWRITE, FILL_IF_EMPTY, ON_CREATE)
ROW_KEYS = ("property", "mode")
#: The panel field each kind of record is matched by in HubSpot: always written.
IDENTIFIER_FIELDS: dict[MapKind, str] = {"contact": "email"}


@dataclass(frozen=True)
class PropertyMap(Mapping[str, str]):
    """Panel field name → HubSpot property name, in the admin's order. Immutable and hashable.

    ``modes`` holds the rows whose mode is not ``overwrite`` (field → mode), so a map
    without modes equals the same map from before modes existed. ``str()`` gives the JSON
    text stored in the ``settings`` table.
    """

    pairs: tuple[tuple[str, str], ...] = ()
    modes: tuple[tuple[str, Mode], ...] = ()

    def mode(self, field: str) -> Mode:
        """The mode of ``field``'s row (``overwrite`` unless the admin chose another)."""
        return dict(self.modes).get(field, OVERWRITE)

    def property_modes(self) -> dict[str, Mode]:
        """HubSpot property → mode, for the properties that are not ``overwrite``."""
        by_field = dict(self.pairs)
        return {by_field[f]: m for f, m in self.modes if f in by_field}

    def rows(self) -> dict[str, str | dict[str, str]]:
        """The JSON form: ``"property"`` for an overwrite row, ``{"property", "mode"}`` otherwise."""
        modes = dict(self.modes)
        return {f: {"property": p, "mode": modes[f]} if f in modes else p for f, p in self.pairs}

    def __getitem__(self, field: str) -> str:
        for name, prop in self.pairs:
            if name == field:
                return prop
        raise KeyError(field)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __str__(self) -> str:
        return json.dumps(self.rows())

    def same_as(self, other: Mapping[str, str]) -> bool:
        """Whether both map the same fields to the same properties in the same modes,
        whatever their order."""
        other_modes = dict(other.modes) if isinstance(other, PropertyMap) else {}
        return dict(self.pairs) == dict(other) and dict(self.modes) == other_modes


#: The seed's mapping: what every contact carried before maps existed.
DEFAULT_CONTACT_MAP = PropertyMap(
    (
        ("email", "email"),
        ("first_name", "firstname"),
        ("last_name", "lastname"),
        ("company", "company"),
        ("phone", "phone"),
    )
)
DEFAULT_TICKET_MAP = PropertyMap()


class MapShapeError(ValueError):
    """A property map of the wrong shape; ``problems`` maps a panel field ("" for the whole map) to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.problems.items()))


def quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, cut short so a pasted essay stays out of it."""
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def json_setting(value: object, shape: str) -> object:
    """A JSON-valued setting's value, from its text or already decoded, within the bounds
    every JSON-valued setting has; ValueError("must be <shape>…") otherwise. The settings
    layer decodes JSON through this function only."""
    try:
        return parse_bounded_json(
            value, max_chars=MAX_JSON_CHARS, max_depth=MAX_JSON_DEPTH, field="value", expected=shape
        )
    except InvalidInput as exc:
        raise ValueError(exc.errors["value"]) from None


def _pairs_from_json(text: str) -> list[tuple[object, object]]:
    """The outermost object's pairs in order, a name given twice included (a dict would
    keep only the last): decoded again with a hook once :func:`json_setting` passed it."""
    try:
        json_setting(text, MAP_SHAPE)
    except ValueError as exc:
        raise MapShapeError({"": str(exc)}) from None
    pairs: list[tuple[object, object]] = []

    def keep_pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        pairs[:] = items  # the outermost object is decoded last
        return dict(items)

    try:
        json.loads(text, object_pairs_hook=keep_pairs)
    except (ValueError, RecursionError):
        raise MapShapeError({"": NOT_AN_OBJECT}) from None
    return pairs


def parse_property_map(value: object, kind: MapKind) -> PropertyMap:
    """A property map from JSON text or an already-decoded object; raises MapShapeError naming each bad entry.

    An empty text is an empty map (which a contact map refuses: it must map email).
    """
    if isinstance(value, PropertyMap):
        value = value.rows()
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            raw: list[tuple[object, object]] = []
        elif not stripped.startswith("{"):
            raise MapShapeError({"": NOT_AN_OBJECT})
        else:
            raw = _pairs_from_json(stripped)
    elif isinstance(value, dict):
        try:
            json_setting(value, MAP_SHAPE)
        except ValueError as exc:
            raise MapShapeError({"": str(exc)}) from None
        raw = list(value.items())
    else:
        raise MapShapeError({"": NOT_AN_OBJECT})

    problems: dict[str, str] = {}
    bad_names: list[str] = []
    if len(raw) > MAX_ENTRIES:
        raise MapShapeError({"": f"may map at most {MAX_ENTRIES} fields, not {len(raw)}"})
    pairs: list[tuple[str, str]] = []
    modes: list[tuple[str, Mode]] = []
    owners: dict[str, str] = {}
    for field, row in raw:
        if not isinstance(field, str) or not PANEL_FIELD_RE.fullmatch(field):
            name = quoted(field) if isinstance(field, str) else repr(field)
            bad_names.append(name)
            continue
        if any(field == seen for seen, _ in pairs) or field in problems:
            problems[field] = "is named twice"
            continue
        try:
            prop, mode = _row(row)
        except ValueError as exc:
            problems[field] = str(exc)
            continue
        if mode != OVERWRITE and IDENTIFIER_FIELDS.get(kind) == field:
            problems[field] = (
                f"is how {kind}s are matched in HubSpot and is always written: its mode "
                f"must be {OVERWRITE}, not {quoted(mode)}"
            )
            continue
        if mode != OVERWRITE and kind == "ticket" and prop == api.TICKET_ID_PROPERTY:
            problems[field] = (
                f"property {quoted(prop)} identifies the ticket and is always written by "
                "the plugin: it takes no panel field and no mode"
            )
            continue
        if not isinstance(prop, str) or not PROPERTY_NAME_RE.fullmatch(prop):
            problems[field] = (
                "must name a HubSpot property by its internal name: lower-case letters, "
                "digits and _, at most 100 characters"
            )
            continue
        if kind == "ticket" and field in TICKET_FIELDS:
            problems[field] = (
                "is sent by the plugin itself; map only the ticket's extra fields here"
            )
            continue
        if kind == "ticket" and prop in TICKET_PROPERTIES_SET_BY_PLUGIN:
            problems[field] = f"property {quoted(prop)} is set by the plugin from the ticket itself"
            continue
        if prop in owners:
            problems[field] = (
                f"property {quoted(prop)} is already filled from {owners[prop]}; "
                "each property takes one panel field"
            )
            continue
        owners[prop] = field
        pairs.append((field, prop))
        if mode != OVERWRITE:
            modes.append((field, mode))
    if kind == "contact" and "email" not in problems and dict(pairs).get("email") != "email":
        problems["email"] = "must map to the email property: contacts are matched by it"
    if bad_names:
        problems[""] = (
            f"panel field names must be lower-case letters, digits and _, starting with a "
            f"letter, at most 64 characters: {', '.join(bad_names[:5])}"
        )
    if problems:
        raise MapShapeError(problems)
    return PropertyMap(tuple(pairs), tuple(modes))


def _row(row: object) -> tuple[object, Mode]:
    """A row's property (checked by the caller) and mode; ValueError saying what is wrong.

    A row is the property's name, or an object of ``property`` and an optional ``mode``.
    """
    if not isinstance(row, dict):
        return row, OVERWRITE
    unknown = [str(k) for k in row if k not in ROW_KEYS]
    if unknown:
        raise ValueError(
            f"has an unknown key {quoted(unknown[0])}: a row takes {' and '.join(ROW_KEYS)}"
        )
    if "property" not in row:
        raise ValueError('must name its HubSpot property ("property")')
    mode = row.get("mode", OVERWRITE)
    if mode not in MODES:
        shown = quoted(mode) if isinstance(mode, str) else json.dumps(mode)[:40]
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {shown}")
    return row["property"], cast(Mode, mode)


def parse_contact_property_map(value: object) -> PropertyMap:
    return parse_property_map(value, "contact")


def parse_ticket_property_map(value: object) -> PropertyMap:
    return parse_property_map(value, "ticket")
