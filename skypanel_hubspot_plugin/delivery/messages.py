"""Delivering a ticket's messages: each one an email on the HubSpot ticket, exactly once.

A message's rows share their ticket's record (``ticket:<id>``), so a claim holds them with
the ticket's own rows, and a ticket's messages are delivered by one worker at a time, in
the order the panel recorded them, after the ticket's creation and changes of that claim.

- Exactly once: the email is upserted by the unique ``skypanel_message_id`` email property,
  so a retry after a lost answer (HubSpot logged the email, we never heard) updates that
  email instead of logging a second; the associations with the ticket and its contact are
  PUTs, idempotent too. A message recorded twice (the host fired the hook twice) is one
  email.
- A message waits for its ticket's creation without spending attempts: while the creation
  is on its way, and while it is parked (until the admin replays it). Messages of a ticket
  HubSpot never had (opened before HubSpot was enabled) are parked, saying so.
- A message HubSpot refuses is parked on its own; the ticket's other messages still go.
  HubSpot orders a ticket's timeline by each email's ``hs_timestamp`` (the message's time),
  so a message replayed later still shows where it was written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skypanel_hubspot_plugin.delivery.coalesce import TICKET_CREATE, TICKET_MESSAGE
from skypanel_hubspot_plugin.delivery.outbox import MIN_WAIT_S, Group, Outbox
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError, NotFound
from skypanel_hubspot_plugin.mapping.message_fields import email_properties

if TYPE_CHECKING:
    from skypanel_hubspot_plugin.hubspot.service import HubSpotService

log = logging.getLogger(__name__)

#: How long a ticket's messages wait before looking again for its parked creation.
WAIT_FOR_PARKED_CREATE_S = 60.0


def split_messages(group: Group) -> tuple[Group | None, Group | None]:
    """A ticket's claimed rows as (its own rows, its messages); None for a part it lacks."""
    own = [r for r in group.rows if r.kind != TICKET_MESSAGE]
    messages = [r for r in group.rows if r.kind == TICKET_MESSAGE]
    settled = [c for c in group.settled_after if c.kind != TICKET_MESSAGE]
    return (
        Group(group.entity, own, settled) if own else None,
        Group(group.entity, messages, []) if messages else None,
    )


class MessageDelivery:
    """The part of :class:`~.deliverer.Deliverer` that delivers ticket messages."""

    outbox: Outbox
    service: HubSpotService
    worker_id: str

    if TYPE_CHECKING:

        def _call(self, groups: list[Group], fn: Callable[..., Any], *args: Any) -> Any: ...

        def fail(self, group: Group, exc: HubSpotError) -> None: ...

    def _messages(self, group: Group) -> None:
        panel_ticket = group.entity.removeprefix("ticket:")
        ticket_id = self.outbox.link("ticket", panel_ticket)
        creation = self.outbox.first_row(group.entity, TICKET_CREATE)
        if ticket_id is None:
            self._wait_for_ticket(group, creation)
            return
        created = _payload(creation) if creation is not None else {}
        subject = str((created.get("properties") or {}).get("subject") or "")
        customer = created.get("contact") or {}
        owner = (creation.user_id if creation else None) or created.get("user_id")
        contact_id = self.outbox.link("contact", str(owner)) if owner else None

        # One email per message id, in the order first recorded; the newest row's text.
        by_message: dict[str, list[OutboxRow]] = {}
        payloads: dict[str, dict[str, Any]] = {}
        for row in sorted(group.rows, key=lambda r: r.id or 0):
            payload = _payload(row)
            if "message_id" not in payload:  # a refused event replayed as it was refused
                self.outbox.park([row], self.worker_id, "the message was refused when recorded")
                continue
            by_message.setdefault(str(payload["message_id"]), []).append(row)
            payloads[str(payload["message_id"])] = payload
        if not by_message:
            return
        emails = [
            (message_id, email_properties(payloads[message_id], subject, customer))
            for message_id in by_message
        ]
        result = self._call([group], self.service.upsert_emails, emails)
        found = {c.properties.get(api.MESSAGE_ID_PROPERTY): c.id for c in result.results}
        if len(emails) == 1 and len(result.results) == 1:
            found.setdefault(emails[0][0], result.results[0].id)
        refused = {i: e.message for e in result.errors for i in e.ids}
        order = list(by_message)
        for index, message_id in enumerate(order):
            rows = by_message[message_id]
            email_id = found.get(message_id)
            if email_id is None:
                reason = refused.get(message_id)
                if reason is not None:
                    self.outbox.park(rows, self.worker_id, f"HubSpot refused the message: {reason}")
                else:
                    self.fail(
                        Group(group.entity, rows, []),
                        HubSpotError("HubSpot's answer did not include this message"),
                    )
                continue
            try:
                self._associate(group, email_id, ticket_id, contact_id)
            except HubSpotError as exc:
                # This message and those after it try again; those before are delivered.
                later = [r for m in order[index:] for r in by_message[m]]
                self.fail(Group(group.entity, later, []), exc)
                return
            self.outbox.delivered(rows, self.worker_id, email_id)

    def _associate(
        self, group: Group, email_id: str, ticket_id: str, contact_id: str | None
    ) -> None:
        self._call([group], self.service.associate_email, email_id, api.TICKETS, ticket_id)
        if contact_id is None:
            return
        try:
            self._call([group], self.service.associate_email, email_id, api.CONTACTS, contact_id)
        except NotFound:
            # The contact was deleted or merged in HubSpot: the email stays on the ticket.
            log.info(
                "Contact %s gone in HubSpot: email %s is on its ticket only", contact_id, email_id
            )

    def _wait_for_ticket(self, group: Group, creation: OutboxRow | None) -> None:
        if creation is None:
            self.outbox.park(
                group.rows,
                self.worker_id,
                "HubSpot has no ticket for this panel ticket: its creation was never sent "
                "(it was opened before HubSpot was enabled)",
            )
        elif creation.status == DEAD:
            # Parked: its messages wait (no attempt spent) until the admin replays it.
            self.outbox.defer(group.rows, self.worker_id, WAIT_FOR_PARKED_CREATE_S)
        elif creation.status == DELIVERED:
            self.outbox.park(
                group.rows,
                self.worker_id,
                "The HubSpot ticket of this panel ticket is no longer linked to it (deleted "
                "in HubSpot, or its customer's data erased)",
            )
        else:  # on its way, in this claim or retrying: the messages follow it
            self.outbox.defer(group.rows, self.worker_id, MIN_WAIT_S)


def _payload(row: OutboxRow) -> dict[str, Any]:
    data = json.loads(row.payload)
    return data if isinstance(data, dict) else {}
