"""The portal's own property definitions (``GET /crm/properties/<version>/{objectType}``).

A property map is checked against them when an admin saves it
(:mod:`skypanel_hubspot_plugin.mapping.property_cache` keeps them briefly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PropertyInfo:
    """One property as the portal defines it: what a panel value may be written into.

    ``type`` is HubSpot's data type (``string``, ``number``, ``enumeration``, ``date``,
    ``datetime``, ``bool``, ``phone_number``, …); ``options`` are the values of an
    enumeration's visible options; ``read_only`` is True for calculated properties and those
    HubSpot marks ``readOnlyValue`` (``createdate``, ``hs_object_id``, …).
    """

    name: str
    label: str
    type: str
    field_type: str = "text"
    options: tuple[str, ...] = ()
    read_only: bool = False
    hidden: bool = False


def property_info(prop: Any) -> PropertyInfo:
    """A :class:`PropertyInfo` from the client's ``Property`` model."""
    metadata = getattr(prop, "modification_metadata", None)
    read_only = bool(getattr(metadata, "read_only_value", False)) or bool(
        getattr(prop, "calculated", False)
    )
    return PropertyInfo(
        name=str(prop.name),
        label=str(prop.label or prop.name),
        type=str(prop.type or ""),
        field_type=str(prop.field_type or ""),
        options=tuple(str(o.value) for o in prop.options or [] if not o.hidden),
        read_only=read_only,
        hidden=bool(prop.hidden),
    )
