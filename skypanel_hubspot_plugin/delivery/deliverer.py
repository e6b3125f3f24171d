"""Delivering claimed outbox rows to HubSpot, idempotently.

- Contact upserts go in batches of up to 100, by email: a retry updates, never duplicates.
- A ticket is upserted by its unique ``skypanel_ticket_id``, so a retry after a timeout
  (HubSpot did the work, we did not hear) finds the ticket instead of creating another;
  search-before-create would not hold, since HubSpot's search lags behind its writes.
  Its contact is upserted first when not yet linked, and the association PUT is idempotent.
- A form submission has no key to upsert by: it is delivered at least once, so HubSpot
  sees it twice only when its answer to the first attempt was lost.
- Transient failures (429, 5xx, timeouts) retry with exponential backoff and jitter,
  never sooner than HubSpot's Retry-After; anything retrying cannot fix parks the row.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.delivery.outbox_table import OutboxRow
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import BadRequest, HubSpotError, NotFound
from skypanel_hubspot_plugin.hubspot.service import HubSpotService

T = TypeVar("T")

CONTACT_UPSERT = "contact.upsert"
CONTACT_UPDATE = "contact.update"
CONTACT_DELETE = "contact.delete"
TICKET_CREATE = "ticket.create"
TICKET_UPDATE = "ticket.update"
FORM_SUBMIT = "form.submit"


class NotYetCreated(HubSpotError):
    """An update for a ticket whose creation has not been delivered yet: try again later."""

    transient = True


class Stopping(Exception):
    """The worker is stopping: leave the row claimed; its lease hands it to the next worker."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 1.0
    cap_s: float = 300.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        backoff = min(self.cap_s, self.base_s * float(2 ** max(0, attempts - 1)))
        return max(backoff * random.uniform(0.5, 1.5), retry_after or 0.0)


class Deliverer:
    """Delivers one claimed batch for one worker."""

    def __init__(
        self,
        outbox: Outbox,
        service: HubSpotService,
        limiter: SharedRateLimit,
        worker_id: str,
        stop: threading.Event,
        policy: RetryPolicy,
    ) -> None:
        self.outbox = outbox
        self.service = service
        self.limiter = limiter
        self.worker_id = worker_id
        self.stop = stop
        self.policy = policy

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if not self.limiter.acquire(self.stop):
            raise Stopping()
        return fn(*args)

    def deliver(self, rows: list[OutboxRow]) -> None:
        contacts = [r for r in rows if r.kind == CONTACT_UPSERT]
        for start in range(0, len(contacts), api.BATCH_LIMIT):
            self._guard(contacts[start : start + api.BATCH_LIMIT], self._upsert_contacts)
        for row in rows:
            if row.kind != CONTACT_UPSERT:
                self._guard([row], lambda batch: self._deliver_one(batch[0]))

    def _guard(self, batch: list[OutboxRow], deliver: Callable[[list[OutboxRow]], None]) -> None:
        try:
            deliver(batch)
        except Stopping:
            return
        except BadRequest as exc:
            if len(batch) == 1:
                self.fail(batch[0], exc)
                return
            # HubSpot refused the whole batch for some record in it: find it by halves, so
            # the good records still go (log2(100) ≈ 7 extra requests at most per bad one).
            middle = len(batch) // 2
            self._guard(batch[:middle], deliver)
            self._guard(batch[middle:], deliver)
        except HubSpotError as exc:
            for row in batch:
                self.fail(row, exc)
        except Exception as exc:  # a bug must park the row, not kill the worker
            for row in batch:
                self.outbox.park(row, self.worker_id, f"{type(exc).__name__}: {exc}")

    def fail(self, row: OutboxRow, exc: HubSpotError) -> None:
        message = describe(exc)
        if exc.transient and row.attempts + 1 < self.policy.max_attempts:
            delay = self.policy.delay(row.attempts + 1, exc.retry_after)
            self.outbox.retry_later(row, self.worker_id, message, delay)
        else:
            self.outbox.park(row, self.worker_id, message)

    # -- contacts ------------------------------------------------------------------------------

    def _upsert_contacts(self, rows: list[OutboxRow]) -> None:
        payloads = [json.loads(r.payload) for r in rows]
        merged: dict[str, dict[str, str]] = {}
        for payload in payloads:
            props = payload["properties"]
            merged.setdefault(props["email"], {}).update(props)
        result = self._call(self.service.upsert_contacts, list(merged.values()))
        ids = {(c.properties.get("email") or "").lower(): c.id for c in result.results}
        refused = {i.lower(): e.message for e in result.errors for i in e.ids}
        done: list[tuple[OutboxRow, str, str]] = []
        for row, payload in zip(rows, payloads, strict=True):
            email = payload["properties"]["email"]
            if email in ids:
                done.append((row, ids[email], payload["user_id"]))
            elif email in refused:
                self.outbox.park(
                    row, self.worker_id, f"HubSpot refused the contact: {refused[email]}"
                )
            else:
                self.fail(row, HubSpotError("HubSpot's answer did not include this contact"))
        if done:
            self.outbox.delivered_many(self.worker_id, "contact", done)

    def _contact_id(self, user_id: str, contact: dict[str, str]) -> str:
        linked = self.outbox.link("contact", user_id)
        if linked:
            return linked
        result = self._call(self.service.upsert_contacts, [contact])
        if not result.results:
            reason = result.errors[0].message if result.errors else "no contact returned"
            raise HubSpotError(f"HubSpot refused the ticket's contact: {reason}", status=400)
        contact_id = result.results[0].id
        self.outbox.set_link("contact", user_id, contact_id)
        return contact_id

    # -- one row at a time ---------------------------------------------------------------------

    def _deliver_one(self, row: OutboxRow) -> None:
        payload = json.loads(row.payload)
        hubspot_id: str | None = None
        if row.kind == CONTACT_UPDATE:
            contact_id = self._contact_id(payload["user_id"], payload["contact"])
            if payload["properties"]:
                self._call(self.service.update_contact, contact_id, payload["properties"])
            hubspot_id = contact_id
        elif row.kind == CONTACT_DELETE:
            hubspot_id = self._delete_contact(payload)
        elif row.kind == TICKET_CREATE:
            hubspot_id = self._create_ticket(payload)
        elif row.kind == TICKET_UPDATE:
            ticket_id = self.outbox.link("ticket", payload["ticket_id"])
            if ticket_id is None:
                raise NotYetCreated("the ticket has not reached HubSpot yet")
            self._call(self.service.update_ticket, ticket_id, payload["properties"])
            hubspot_id = ticket_id
        elif row.kind == FORM_SUBMIT:
            self._submit_form(payload)
        else:
            self.outbox.park(row, self.worker_id, f"unknown delivery kind {row.kind!r}")
            return
        self.outbox.delivered(row, self.worker_id, hubspot_id)

    def _submit_form(self, payload: dict[str, Any]) -> None:
        """Posts a recorded submission, built whole when it was recorded.

        Not idempotent, and nothing can make it so: HubSpot files every POST as a new
        submission and has no key to upsert one by. Delivery is at least once; a retry
        after a lost answer can file a second copy, a 400 or 404 parks the row at once.
        """
        self._call(
            self.service.submit_form, payload["portal_id"], payload["form_guid"], payload["body"]
        )

    def _create_ticket(self, payload: dict[str, Any]) -> str:
        contact_id = self._contact_id(payload["user_id"], payload["contact"])
        ticket_id = self.outbox.link("ticket", payload["ticket_id"])
        if ticket_id is None:
            ticket = self._call(
                self.service.upsert_ticket, payload["ticket_id"], payload["properties"]
            )
            ticket_id = ticket.id
            self.outbox.set_link("ticket", payload["ticket_id"], ticket_id)
        self._call(self.service.associate_ticket_with_contact, ticket_id, contact_id)
        return ticket_id

    def _delete_contact(self, payload: dict[str, Any]) -> str | None:
        contact_id = self.outbox.link("contact", payload["user_id"])
        if contact_id is None:
            found = self._call(self.service.get_contact_by_email, payload["email"])
            contact_id = found.id if found else None
        if contact_id is None:
            return None
        try:
            if payload["action"] == "gdpr_delete":
                self._call(self.service.gdpr_delete_contact, contact_id)
            else:
                self._call(self.service.archive_contact, contact_id)
        except NotFound:
            pass  # already gone: what we wanted
        return contact_id


def describe(exc: HubSpotError) -> str:
    status = f"HTTP {exc.status}" if exc.status else "no answer"
    category = f" {exc.category}" if exc.category else ""
    return f"{status}{category}: {exc.message}"
