"""The fake HubSpot's engagements: emails (object type 0-49) and notes (0-46) logged on
tickets and contacts, and an agent's side of a support conversation.

A ticket's conversation lives in HubSpot as the engagements associated with it: an email
with ``hs_email_direction`` ``INCOMING_EMAIL`` is the customer writing, ``EMAIL`` someone
on the support side answering, a note an internal remark no customer sees. Their place on
the ticket's timeline is ``hs_timestamp``. The object API (:mod:`.fake_objects`), the
associations and the properties serve ``emails`` and ``notes`` like contacts and tickets;
:mod:`.fake_engagement_rules` holds what is particular to them (their properties,
association type ids, scopes and HubSpot's rules on writing them), and this module the
control methods a test uses to play an agent (:meth:`EngagementsApi.reply_as_agent`,
:meth:`EngagementsApi.add_internal_note`) and to read a ticket's conversation
(:meth:`EngagementsApi.thread`).
"""

from __future__ import annotations

import json
from typing import Any

from skypanel_hubspot_plugin.common import clock

from .fake_engagement_rules import (
    AGENT,
    EMAILS,
    ENGAGEMENT_TYPES,
    NOTES,
    engagement_kind,
    timestamp_ms,
)
from .fake_state import FakeState


class EngagementsApi(FakeState):
    """Control methods: an agent answering or noting on a ticket, and the ticket's thread."""

    def reply_as_agent(self, ticket_id: str, text: str, *, at_ms: int | None = None) -> str:
        """Logs an outgoing email on ticket ``ticket_id`` (and its contacts), as an agent
        answering in HubSpot's help desk; returns the email's id. ``at_ms`` is its
        ``hs_timestamp`` (now by default)."""
        with self._lock:
            ticket = self._store.get("tickets", ticket_id)
            contacts = self._store.associated("tickets", ticket_id, "contacts")
            to = [
                {"email": self._store.get("contacts", c)["properties"].get("email", "")}
                for c in contacts
            ]
            subject = ticket["properties"].get("subject") or ""
            props = {
                "hs_timestamp": str(at_ms if at_ms is not None else _now_ms()),
                "hs_email_direction": "EMAIL",
                "hs_email_status": "SENT",
                "hs_email_subject": f"Re: {subject}",
                "hs_email_text": text,
                "hs_email_headers": json.dumps({"from": AGENT, "to": to, "cc": [], "bcc": []}),
            }
            return self._log(EMAILS, props, ticket_id, contacts)

    def add_internal_note(self, ticket_id: str, text: str, *, at_ms: int | None = None) -> str:
        """Logs a note on ticket ``ticket_id``, as an agent would for colleagues; returns its id."""
        with self._lock:
            self._store.get("tickets", ticket_id)
            contacts = self._store.associated("tickets", ticket_id, "contacts")
            props = {
                "hs_timestamp": str(at_ms if at_ms is not None else _now_ms()),
                "hs_note_body": text,
            }
            return self._log(NOTES, props, ticket_id, contacts)

    def _log(
        self, object_type: str, props: dict[str, str], ticket_id: str, contacts: list[str]
    ) -> str:
        obj = self._store.create(object_type, props)
        self._store.associate(object_type, obj["id"], "tickets", ticket_id)
        for contact_id in contacts:
            self._store.associate(object_type, obj["id"], "contacts", contact_id)
        return str(obj["id"])

    def thread(self, ticket_id: str) -> list[dict[str, Any]]:
        """Ticket ``ticket_id``'s emails and notes in time order (``hs_timestamp``, then id):
        each with its ``id``, ``objectType``, ``kind`` (incoming, outgoing or note), ``text``,
        ``time`` (epoch ms), ``from`` (the sender's address, for an email) and the
        ``properties`` as HubSpot holds them."""
        with self._lock:
            self._store.get("tickets", ticket_id)  # unknown: 404, as HubSpot would answer
            entries = []
            for object_type in ENGAGEMENT_TYPES:
                for engagement_id in self._store.associated("tickets", ticket_id, object_type):
                    obj = self._store.objects[object_type].get(engagement_id)
                    if obj is None or obj["archived"]:
                        continue
                    props = dict(obj["properties"])
                    entries.append(
                        {
                            "id": obj["id"],
                            "objectType": object_type,
                            "kind": engagement_kind(object_type, props),
                            "text": props.get(
                                "hs_note_body" if object_type == NOTES else "hs_email_text"
                            )
                            or "",
                            "time": timestamp_ms(props.get("hs_timestamp")) or 0,
                            "from": props.get("hs_email_from_email", ""),
                            "properties": props,
                        }
                    )
            return sorted(entries, key=lambda e: (e["time"], int(e["id"])))

    def emails(self) -> list[dict[str, Any]]:
        """Every live email engagement, as HubSpot holds it."""
        with self._lock:
            return [self._store.snapshot(o) for o in self._store.live(EMAILS)]

    def notes(self) -> list[dict[str, Any]]:
        """Every live note, as HubSpot holds it."""
        with self._lock:
            return [self._store.snapshot(o) for o in self._store.live(NOTES)]


def _now_ms() -> int:
    return int(clock.utcnow().timestamp() * 1000)
