"""A panel ticket message → the outbox payload it is recorded as, and the email engagement
HubSpot logs it as.

The customer's messages are incoming emails (``INCOMING_EMAIL``), the staff's outgoing ones
(``EMAIL``), as an agent's answer from HubSpot's help desk would be; ``hs_timestamp`` (the
message's time) places each on the ticket's timeline, so the conversation reads in the
order it was written whatever order the emails were logged in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.mapping.contact_fields import has_control_chars
from skypanel_hubspot_plugin.payloads import TicketMessage

#: The longest message body sent whole; HubSpot keeps a text property up to 65,536 characters.
MAX_BODY = 65_536
#: Panel ids (message, ticket) are kept to what the outbox's ``entity`` column holds.
MAX_ID = 255
AUTHOR_KINDS = ("customer", "staff")


def message_payload(message: TicketMessage) -> dict[str, Any]:
    """The row's payload; raises InvalidInput (the row is then parked) naming the bad field.

    The author's address is kept under ``author_email``, not ``email``: a GDPR erasure of the
    ticket's customer erases the ticket's rows, but takes only the customer's own addresses
    (``email``) as theirs, never a staff member's."""
    errors: dict[str, str] = {}
    for name, value in (("id", message.id), ("ticket_id", message.ticket_id)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
            errors[name] = f"must be a non-empty text of at most {MAX_ID} characters"
        elif has_control_chars(value):
            errors[name] = "must not contain control characters"
    if message.author_kind not in AUTHOR_KINDS:
        errors["author_kind"] = "must be customer or staff"
    if not isinstance(message.body, str) or not message.body.strip():
        errors["body"] = "must not be empty"
    elif len(message.body) > MAX_BODY:
        errors["body"] = f"is longer than {MAX_BODY} characters"
    if not isinstance(message.sent_at, datetime):
        errors["sent_at"] = "must be a datetime"
    for name, value in (
        ("author_name", message.author_name),
        ("author_email", message.author_email),
    ):
        if not isinstance(value, str) or len(value) > MAX_ID:
            errors[name] = f"must be a text of at most {MAX_ID} characters"
    if errors:
        raise InvalidInput(errors)
    sent_at = message.sent_at if message.sent_at.tzinfo else message.sent_at.replace(tzinfo=UTC)
    return {
        "ticket_id": message.ticket_id,
        "message_id": message.id,
        "author_kind": message.author_kind,
        "author_name": message.author_name.strip(),
        "author_email": message.author_email.strip(),
        "body": message.body,
        "sent_at_ms": int(sent_at.timestamp() * 1000),
    }


def _person(name: str, email: str) -> dict[str, str]:
    first, _, last = name.strip().partition(" ")
    person = {"email": email, "firstName": first, "lastName": last.strip()}
    return {k: v for k, v in person.items() if v}


def email_properties(
    payload: dict[str, Any], subject: str, customer: dict[str, str]
) -> dict[str, str]:
    """The email engagement's properties for a recorded message. ``subject`` is the ticket's;
    ``customer`` the ticket's contact as the ticket's creation row holds it (``email``,
    ``firstname``, ``lastname``; empty once purged), the recipient of a staff message."""
    author = _person(str(payload.get("author_name") or ""), str(payload.get("author_email") or ""))
    staff = payload.get("author_kind") == "staff"
    recipient = _person(
        " ".join(filter(None, (customer.get("firstname"), customer.get("lastname")))),
        customer.get("email", ""),
    )
    headers = {
        "from": author,
        "to": [recipient] if staff and recipient else [],
        "cc": [],
        "bcc": [],
    }
    return {
        "hs_timestamp": str(int(payload["sent_at_ms"])),
        "hs_email_direction": "EMAIL" if staff else "INCOMING_EMAIL",
        "hs_email_status": "SENT",
        "hs_email_subject": f"Re: {subject}" if subject else "Re: support ticket",
        "hs_email_text": str(payload["body"]),
        "hs_email_headers": json.dumps(headers),
    }
