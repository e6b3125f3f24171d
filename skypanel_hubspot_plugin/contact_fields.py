"""Turning outside input (an admin's JSON, a panel user) into HubSpot contact properties.

Checked here, before anything is sent, so HubSpot's 400 never becomes the first sign of
a bad record, and the error names our field rather than HubSpot's property.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .invalid_input import InvalidInput
from .payloads import User

# Pragmatic shape check; HubSpot itself is the final judge of deliverability.
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
LIMITS = {"email": 254, "firstname": 255, "lastname": 255, "company": 255, "phone": 64}
CONTACT_FIELDS = tuple(LIMITS)


def has_control_chars(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


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


def user_contact_properties(user: User) -> dict[str, str]:
    """The seed's default mapping: email, firstname, lastname, company, phone."""
    return contact_properties(
        {
            "email": user.email,
            "firstname": user.first_name,
            "lastname": user.last_name,
            "company": user.company,
            "phone": user.phone,
        }
    )
