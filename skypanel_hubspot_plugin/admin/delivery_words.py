"""What a delivery is and whom it is for, in words an admin reads instead of the outbox's codes.

The outbox names a row by ``kind`` (``contact.upsert``) and ``entity`` (``user:151``), which
scripts match on; a person reads "Contact update" for "ada@example.com". The email comes
from the row's own payload, so a row whose personal data was purged after delivery (or
one that never had an email) is named by the panel's id instead: "User 151".
"""

from __future__ import annotations

import json
from typing import Any

from skypanel_hubspot_plugin.delivery.coalesce import (
    CONTACT_DELETE,
    CONTACT_UPDATE,
    CONTACT_UPSERT,
    FORM_SUBMIT,
    TICKET_CREATE,
    TICKET_MESSAGE,
    TICKET_UPDATE,
)

KIND_WORDS = {
    CONTACT_UPSERT: "Contact update",
    CONTACT_UPDATE: "Contact change",
    CONTACT_DELETE: "Contact removal",
    TICKET_CREATE: "New ticket",
    TICKET_UPDATE: "Ticket change",
    TICKET_MESSAGE: "Ticket message",
    FORM_SUBMIT: "Form submission",
}
ENTITY_WORDS = {"user": "User", "ticket": "Ticket"}
FORM_WORDS = {"contact": "Contact form", "ticket": "Ticket form"}


def kind_words(kind: str) -> str:
    """``contact.upsert`` → "Contact update"; a kind from a newer version is shown as it is."""
    return KIND_WORDS.get(kind, kind)


def entity_words(entity: str, payload: str) -> str:
    """``user:151`` → the user's email when the row holds it, else "User 151"; ``ticket:9`` →
    "Ticket 9"; ``form:contact`` → "Contact form" (and the sender's email)."""
    prefix, _, ident = entity.partition(":")
    email = _email(payload)
    if prefix == "user":
        return email or f"User {ident}"
    if prefix == "form":
        name = FORM_WORDS.get(ident, f"Form {ident}")
        return f"{name} · {email}" if email else name
    if prefix in ENTITY_WORDS:
        return f"{ENTITY_WORDS[prefix]} {ident}"
    return entity


def _email(payload: str) -> str | None:
    """The contact's email wherever the row's kind keeps it; None when it has none."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    rejected = data.get("rejected")
    candidates: list[Any] = [
        _get(data, "properties", "email"),  # contact.upsert
        _get(data, "contact", "email"),  # contact.update, ticket.create
        data.get("email"),  # contact.delete
        _get(rejected, "email"),  # a parked user event: the user as given
        _get(rejected, "user", "email"),  # a parked ticket event
        _get(rejected, "fields", "email"),  # a parked form submission
        _form_field(_get(data, "body", "fields"), "email"),  # form.submit
    ]
    return next((c for c in candidates if isinstance(c, str) and c), None)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _form_field(fields: Any, name: str) -> Any:
    if not isinstance(fields, list):
        return None
    return next(
        (f.get("value") for f in fields if isinstance(f, dict) and f.get("name") == name), None
    )
