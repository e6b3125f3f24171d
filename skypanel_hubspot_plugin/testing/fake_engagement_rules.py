"""What HubSpot's engagements are, for the fake: the properties of emails (object type
0-49) and notes (0-46), their association type ids and scopes, and the rules HubSpot
applies on writing them. The store (:mod:`.fake_store`) applies them; the agent's side of a
conversation is in :mod:`.fake_engagements`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

EMAILS = "emails"
NOTES = "notes"
ENGAGEMENT_TYPES = (EMAILS, NOTES)
ENGAGEMENT_TYPE_IDS = {EMAILS: "0-49", NOTES: "0-46"}

#: HUBSPOT_DEFINED association type ids, both ways (HubSpot's associations v4 reference).
ENGAGEMENT_ASSOCIATION_TYPES = {
    (EMAILS, "contacts"): 198,
    ("contacts", EMAILS): 197,
    (EMAILS, "tickets"): 224,
    ("tickets", EMAILS): 223,
    (NOTES, "contacts"): 202,
    ("contacts", NOTES): 201,
    (NOTES, "tickets"): 228,
    ("tickets", NOTES): 227,
}

#: What HubSpot's specs ask of a token, per object type: email bodies need sales-email-read.
ENGAGEMENT_READ_SCOPES = {
    EMAILS: {"crm.objects.contacts.read", "sales-email-read"},
    NOTES: {"crm.objects.contacts.read"},
}
ENGAGEMENT_WRITE_SCOPES = {
    EMAILS: {"crm.objects.contacts.write", "sales-email-read"},
    NOTES: {"crm.objects.contacts.write"},
}

INCOMING = "incoming"
OUTGOING = "outgoing"
NOTE = "note"
#: The fake's help-desk agent, who answers tickets from HubSpot.
AGENT = {"email": "agent@support.example.com", "firstName": "Alex", "lastName": "Agent"}

#: The email properties HubSpot fills from ``hs_email_headers`` (read only).
_HEADER_PROPERTIES = {
    "hs_email_from_email": ("from", "email"),
    "hs_email_from_firstname": ("from", "firstName"),
    "hs_email_from_lastname": ("from", "lastName"),
    "hs_email_to_email": ("to", "email"),
    "hs_email_to_firstname": ("to", "firstName"),
    "hs_email_to_lastname": ("to", "lastName"),
}

Prop = Callable[..., dict[str, Any]]


def engagement_properties(prop: Prop) -> dict[str, dict[str, dict[str, Any]]]:
    """The default properties of emails and notes, built with the store's ``prop`` factory."""

    def stamps() -> list[dict[str, Any]]:
        return [
            prop("hs_object_id", "Record ID", type_="number", field_type="number", read_only=True),
            prop(
                "hs_createdate", "Created at", type_="datetime", field_type="date", read_only=True
            ),
            prop(
                "hs_lastmodifieddate",
                "Last modified date",
                type_="datetime",
                field_type="date",
                read_only=True,
            ),
        ]

    common = [
        prop("hs_timestamp", "Activity date", type_="datetime", field_type="date"),
        prop("hubspot_owner_id", "Activity assigned to"),
        prop("hs_attachment_ids", "Attachment IDs"),
    ]
    emails = [
        *common,
        prop(
            "hs_email_direction",
            "Email direction",
            type_="enumeration",
            field_type="select",
            options=[
                ("EMAIL", "Email sent from CRM"),
                ("INCOMING_EMAIL", "Reply email"),
                ("FORWARDED_EMAIL", "Forwarded email"),
            ],
        ),
        prop(
            "hs_email_status",
            "Email send status",
            type_="enumeration",
            field_type="select",
            options=[
                (s, s.capitalize()) for s in ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")
            ],
        ),
        prop("hs_email_subject", "Email subject"),
        prop("hs_email_text", "Email body", field_type="textarea"),
        prop("hs_email_html", "Email HTML body", field_type="html"),
        prop("hs_email_headers", "Email headers", field_type="textarea"),
        *(prop(name, name, read_only=True) for name in _HEADER_PROPERTIES),
        *stamps(),
    ]
    notes = [*common, prop("hs_note_body", "Note body", field_type="html"), *stamps()]
    return {EMAILS: {p["name"]: p for p in emails}, NOTES: {p["name"]: p for p in notes}}


def timestamp_ms(value: Any) -> int | None:
    """``hs_timestamp`` as HubSpot accepts it (epoch milliseconds or ISO 8601), in ms."""
    if not isinstance(value, str) or not value:
        return None
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp() * 1000)


def engagement_problem(object_type: str, props: dict[str, Any], creating: bool) -> str | None:
    """Why HubSpot refuses these engagement properties (None: it accepts them); the
    property named first."""
    if ("hs_timestamp" in props or creating) and timestamp_ms(props.get("hs_timestamp")) is None:
        return "hs_timestamp"
    if object_type == EMAILS and "hs_email_headers" in props:
        try:
            headers = json.loads(props["hs_email_headers"] or "{}")
        except ValueError:
            return "hs_email_headers"
        if not isinstance(headers, dict):
            return "hs_email_headers"
    return None


def header_properties(props: dict[str, Any]) -> dict[str, str]:
    """The read-only sender and recipient properties HubSpot derives from the headers."""
    try:
        headers = json.loads(props.get("hs_email_headers") or "{}")
    except ValueError:
        return {}
    derived: dict[str, str] = {}
    for name, (part, key) in _HEADER_PROPERTIES.items():
        value = headers.get(part) if isinstance(headers, dict) else None
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict) and isinstance(value.get(key), str):
            derived[name] = value[key]
    return derived


def engagement_kind(object_type: str, props: dict[str, Any]) -> str:
    if object_type == NOTES:
        return NOTE
    return INCOMING if props.get("hs_email_direction") == "INCOMING_EMAIL" else OUTGOING
