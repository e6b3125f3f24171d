"""Mapping a parked contact again with the property map in force when it is replayed.

A contact row holds the properties the map gave at the time of the event. When HubSpot
refused it for a portal rule (a property the portal requires that the map did not fill),
the admin's fix is often the map itself: map a panel field to the required property.
So a contact row also keeps the panel's fields of the user (:func:`panel_fields`), and a
replay rebuilds its properties from them with the current map (:func:`remapped`); the
fields are erased with the rest of the payload (retention, GDPR erasure).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.delivery.coalesce import CONTACT_UPDATE, CONTACT_UPSERT
from skypanel_hubspot_plugin.mapping.contact_fields import user_contact_properties
from skypanel_hubspot_plugin.payloads import User

#: The payload key holding the panel's fields of the user.
PANEL_FIELDS = "panel_fields"
REMAPPED_KINDS = (CONTACT_UPSERT, CONTACT_UPDATE)


def panel_fields(user: User) -> dict[str, Any]:
    """What a contact row keeps of the panel's user so that a replay can map it again."""
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "company": user.company,
        "phone": user.phone,
        "extra": dict(user.extra),
    }


def remapped(kind: str, payload: str, mapping: Mapping[str, str]) -> str | None:
    """The payload of a parked contact row with its properties given by ``mapping``; None
    when it stays as it is (another kind, a row from before panel fields were kept, a user
    the map can no longer make a contact of).

    An upsert sends the whole new contact. An update keeps sending the properties of the
    fields that changed, plus every property the new map fills that the old one did not,
    since HubSpot never got those.
    """
    if kind not in REMAPPED_KINDS:
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    fields = data.get(PANEL_FIELDS) if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        return None
    try:
        user = User(id=str(data.get("user_id", "")), **fields)
        contact = user_contact_properties(user, mapping)
    except (TypeError, InvalidInput):
        return None
    if kind == CONTACT_UPSERT:
        data["properties"] = contact
    else:
        before = data.get("contact") or {}
        changed = {k: contact[k] for k in data.get("properties") or {} if k in contact}
        added = {k: v for k, v in contact.items() if k not in before}
        data["contact"] = contact
        data["properties"] = {**changed, **added}
    return json.dumps(data)
