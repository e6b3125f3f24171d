"""The fake HubSpot's side of a support conversation coming back to the panel: the batch
read of associations, tickets an agent opens in HubSpot, and the association webhooks
HubSpot sends when a reply or a contact is tied to a ticket.

HubSpot reports a new association only to apps subscribed to association changes:
``object.associationChange`` in the generic format covers every object type (an email tied
to a ticket among them), the legacy ``ticket.associationChange`` only contacts, companies,
deals, tickets, line items and products. The fake sends what HubSpot would, in the
subscription's format: an agent's reply in the generic format only, a ticket's contact in
both.
"""

from __future__ import annotations

from typing import Any

from .fake_engagement_rules import EMAILS
from .fake_http import Answer, RouteSpec, error_body, read_scopes
from .fake_schema import now_iso
from .fake_state import FakeState
from .fake_store import ASSOCIATION_TYPES
from .fake_webhooks import (
    association_change_event,
    deliver,
    lifecycle_event,
)

#: Paths of the associations API proper (batch reads), in every version the fake serves.
ASSOCIATIONS_API = r"/crm/(?:v4/associations|associations/(?:2026-03|2026-09))"
TYPES = r"(?:contacts|tickets|emails|notes)"


class ConversationApi(FakeState):
    """Batch reads of associations, agents opening tickets, association webhooks."""

    def _conversation_routes(self) -> list[RouteSpec]:
        return [
            (
                "POST",
                rf"{ASSOCIATIONS_API}/(?P<object_type>{TYPES})/(?P<to_type>{TYPES})/batch/read",
                self._batch_read_associations,
                lambda p: read_scopes(p["object_type"]) | read_scopes(p["to_type"]),
            )
        ]

    def _batch_read_associations(
        self, *, object_type: str, to_type: str, body: Any, **_: Any
    ) -> Answer:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or len(inputs) > 1000:
            return 400, error_body("inputs must be a list of at most 1000 ids", "VALIDATION_ERROR")
        type_id = ASSOCIATION_TYPES.get((object_type, to_type), 1)
        results, errors = [], []
        for item in inputs:
            record_id = str(item.get("id")) if isinstance(item, dict) else ""
            linked = (
                self._store.associated(object_type, record_id, to_type)
                if record_id in self._store.objects[object_type]
                else []
            )
            if not linked:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": f"No {to_type} are associated with {object_type} {record_id}",
                        "context": {"fromObjectId": [record_id]},
                    }
                )
                continue
            results.append(
                {
                    "from": {"id": record_id},
                    "to": [
                        {
                            "toObjectId": i,
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": type_id}
                            ],
                        }
                        for i in linked
                    ],
                }
            )
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now_iso(),
            "completedAt": now_iso(),
        }
        if errors:
            answer["errors"] = errors
            answer["numErrors"] = len(errors)
        return 200, answer

    # -- control -------------------------------------------------------------------------------

    def reply_as_agent(self, ticket_id: str, text: str, *, at_ms: int | None = None) -> str:
        """Logs an agent's reply on ticket ``ticket_id`` (an outgoing email to its contacts)
        and, to an app in the generic webhook format, sends the ticket's association change
        to the email; returns the email's id."""
        email_id: str = super().reply_as_agent(ticket_id, text, at_ms=at_ms)  # type: ignore[misc]
        self._send_association(ticket_id, EMAILS, email_id, generic_only=True)
        return email_id

    def open_ticket_as_agent(
        self,
        contact_email: str,
        subject: str,
        text: str = "",
        *,
        pipeline: str = "0",
        stage: str = "1",
        priority: str | None = None,
    ) -> str:
        """Opens a ticket in HubSpot as an agent turning a chat or an email into one: the
        ticket, associated with the contact who has ``contact_email`` (made when HubSpot has
        none); then sends its creation and its association with the contact. Returns the
        ticket's id."""
        with self._lock:
            contact = self._store.find_by("contacts", "email", contact_email.lower())
            if contact is None:
                contact = self._store.create("contacts", {"email": contact_email})
            props = {
                "subject": subject,
                "content": text,
                "hs_pipeline": pipeline,
                "hs_pipeline_stage": stage,
                **({"hs_ticket_priority": priority} if priority else {}),
            }
            ticket = self._store.create("tickets", props)
            self._store.associate("tickets", ticket["id"], "contacts", contact["id"])
            sub = self._webhooks
        if sub is not None:
            deliver(sub, [lifecycle_event(sub, self.portal_id, "ticket", ticket["id"], "creation")])
        self._send_association(ticket["id"], "contacts", contact["id"], generic_only=False)
        return str(ticket["id"])

    def _send_association(
        self, ticket_id: str, to_type: str, to_id: str, *, generic_only: bool
    ) -> None:
        with self._lock:
            sub = self._webhooks
        if sub is None or (generic_only and sub.format != "generic"):
            return
        type_id = ASSOCIATION_TYPES.get(("tickets", to_type), 1)
        event = association_change_event(sub, self.portal_id, ticket_id, to_type, to_id, type_id)
        deliver(sub, [event])
