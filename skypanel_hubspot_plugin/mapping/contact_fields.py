"""Turning outside input (an admin's JSON, a panel user) into HubSpot contact properties.

Checked here, before anything is sent, so HubSpot's 400 never becomes the first sign of
a bad record, and the error names our field rather than HubSpot's property.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.payloads import User
from skypanel_hubspot_plugin.settings.property_map import DEFAULT_CONTACT_MAP, USER_FIELDS

# Pragmatic shape check; HubSpot itself is the final judge of deliverability.
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
LIMITS = {"email": 254, "firstname": 255, "lastname": 255, "company": 255, "phone": 64}
CONTACT_FIELDS = tuple(LIMITS)
#: HubSpot's limit on a text property's value, for mapped properties LIMITS does not name.
MAX_VALUE = 65_536


_CONTROL_CHAR = re.compile(r"[\x00-\x1f\x7f]")


def has_control_chars(text: str) -> bool:
    return _CONTROL_CHAR.search(text) is not None


def clean_email(value: object, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput({field: "is required"})
    text = value.strip()
    if len(text) > LIMITS["email"] or has_control_chars(text) or not EMAIL_RE.fullmatch(text):
        raise InvalidInput({field: "must be an email address like name@example.com"})
    return text.lower()


def contact_properties(values: Mapping[str, object]) -> dict[str, str]:
    """HubSpot properties from a mapping of the seed's field names; raises naming every bad one."""
    errors: dict[str, str] = {}
    props: dict[str, str] = {}
    for key in values:
        if key not in LIMITS:
            errors[key] = f"is not a contact field (expected one of {', '.join(CONTACT_FIELDS)})"
    try:
        props["email"] = clean_email(values.get("email"))
    except InvalidInput as exc:
        errors.update(exc.errors)
    for key in CONTACT_FIELDS[1:]:
        value = values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            errors[key] = "must be text"
        elif len(value) > LIMITS[key]:
            errors[key] = f"must be at most {LIMITS[key]} characters"
        elif has_control_chars(value):
            errors[key] = "must not contain control characters"
        else:
            props[key] = value.strip()
    if errors:
        raise InvalidInput(errors)
    return props


def mapped_value(prop: str, value: object) -> str | None:
    """One panel value as the text HubSpot takes for ``prop``; None when there is nothing to send.

    A number or bool a host put in ``extra`` becomes HubSpot's text for it. Raises
    ValueError saying what is wrong; whether the text suits the property's type is
    HubSpot's call at delivery (see ``property_map_check``).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be text")
    limit = LIMITS.get(prop, MAX_VALUE)
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    if has_control_chars(value):
        raise ValueError("must not contain control characters")
    return value.strip()


def mapped_properties(
    value_of: Callable[[str], object], mapping: Mapping[str, str]
) -> dict[str, str]:
    """The properties ``mapping`` (panel field → property) fills; raises naming each bad property."""
    errors: dict[str, str] = {}
    props: dict[str, str] = {}
    for panel_field, prop in mapping.items():
        try:
            text = mapped_value(prop, value_of(panel_field))
        except ValueError as exc:
            errors[prop] = str(exc)
            continue
        if text is not None:
            props[prop] = text
    if errors:
        raise InvalidInput(errors)
    return props


def user_field(user: User, name: str) -> object:
    """A panel user field by name: a built-in attribute, else a key of ``user.extra`` (or None)."""
    if name in USER_FIELDS:
        return getattr(user, name)
    return user.extra.get(name)


def user_contact_properties(
    user: User, mapping: Mapping[str, str] = DEFAULT_CONTACT_MAP
) -> dict[str, str]:
    """The contact properties ``mapping`` gives ``user`` (the seed's five by default).

    The email is always checked and sent as ``email``, since HubSpot matches contacts by
    it. Raises InvalidInput naming each bad property, so the event is parked, not sent.
    """
    errors: dict[str, str] = {}
    props: dict[str, str] = {}
    try:
        props["email"] = clean_email(user.email)
    except InvalidInput as exc:
        errors.update(exc.errors)
    others = {f: p for f, p in mapping.items() if p != "email"}
    try:
        props.update(mapped_properties(lambda name: user_field(user, name), others))
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return props
