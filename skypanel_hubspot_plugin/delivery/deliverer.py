"""Delivering claimed records to HubSpot: the newest values, idempotently, in order.

- Each record's claimed rows are folded (:mod:`.coalesce`) into the writes that leave it at
  the panel's newest values: a burst of updates is one request, and a retry re-sends the
  fold, never an older row over a newer one.
- Contacts go in batches of up to 100: new ones created in a batch HubSpot answers per
  input (an email it has already is updated by id instead), whole ones upserted by email,
  linked contacts' changes updated by id (a retry updates, never duplicates).
- HubSpot refuses a batch update or upsert whole for one bad record: the record is found
  by halves, the rest delivered (:meth:`Deliverer._refused`).
- A ticket is upserted by its unique ``skypanel_ticket_id``, so a retry after a timeout
  (HubSpot did the work, we did not hear) finds the ticket instead of creating another;
  search-before-create would not hold, since HubSpot's search lags behind its writes. Its
  contact is the one its user is linked to at that moment; only for a user with no link and
  no queued rows is one created from the ticket's copy (never overwriting one that exists,
  never moving a link another worker set), and the association PUT is idempotent.
- A ticket's changes wait for its creation, and a new ticket for its user's pending contact
  changes, without spending attempts.
- Each mapped property is written as its mode says (:mod:`.ownership`): a write that carries
  ``fill_if_empty`` or ``on_create`` properties reads the batch's records first (one batch
  read per batch) and leaves out what HubSpot's users own.
- A ticket's messages are emails on the HubSpot ticket, each logged once (:mod:`.messages`).
- A form submission has no key to upsert by: it is delivered at least once, so HubSpot
  sees it twice only when its answer to the first attempt was lost.
- Transient failures (429, 5xx, timeouts) retry with exponential backoff and jitter,
  never sooner than HubSpot's Retry-After; anything retrying cannot fix parks the rows.
- HubSpot's daily limit spent pauses every worker until it resets, spending no attempt.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from skypanel_hubspot_plugin.delivery.coalesce import (
    CONTACT_DELETE,
    CONTACT_UPDATE,
    CONTACT_UPSERT,
    FORM_SUBMIT,
    TICKET_CREATE,
    TICKET_MESSAGE,
    TICKET_UPDATE,
    ContactPlan,
    contact_plan,
    ticket_plan,
)
from skypanel_hubspot_plugin.delivery.contact_writes import CONTACT_ROUNDS, ContactWrites
from skypanel_hubspot_plugin.delivery.messages import MessageDelivery, split_messages
from skypanel_hubspot_plugin.delivery.outbox import Group, Outbox
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, OutboxRow, utcnow
from skypanel_hubspot_plugin.delivery.ownership import (
    Call,
    Ownership,
    created_after_all,
    owned_ticket_create,
    owned_ticket_update,
    owned_updates,
    owned_upserts,
)
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.delivery.timings import HUBSPOT, RATE_LIMIT, Timings
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    Conflict,
    DailyLimitReached,
    HubSpotError,
    NotFound,
)
from skypanel_hubspot_plugin.hubspot.service import CrmObject, HubSpotService

__all__ = [
    "CONTACT_DELETE",
    "CONTACT_UPDATE",
    "CONTACT_UPSERT",
    "FORM_SUBMIT",
    "TICKET_CREATE",
    "TICKET_MESSAGE",
    "TICKET_UPDATE",
    "Deliverer",
    "RetryPolicy",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: How long a ticket's changes wait before looking again for its parked creation.
WAIT_FOR_CREATE_S = 60.0


#: What :meth:`Deliverer._attempt` says besides a refusal: the batch was sent and its
#: outcome recorded; the worker must leave the rows; another failure was recorded on them.
SENT, STOP, OTHER = "sent", "stop", "other"

#: HubSpot refusing a batch for a record in it: it applied none of the batch.
REFUSALS = (BadRequest, Conflict, NotFound)
Refusal = BadRequest | Conflict | NotFound


class StillMoving(HubSpotError):
    """A contact went from create to update and back more than a claim allows: retried later."""

    transient = True


class Stopping(Exception):
    """The worker is stopping: leave the rows claimed; ``release`` or the lease frees them."""


class LeaseLost(Exception):
    """Another worker took these rows over (our lease ran out): leave them to it."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 1.0
    cap_s: float = 300.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        backoff = min(self.cap_s, self.base_s * float(2 ** max(0, attempts - 1)))
        return max(backoff * random.uniform(0.5, 1.5), retry_after or 0.0)


class Deliverer(MessageDelivery):
    """Delivers one claim (a list of record groups) for one worker."""

    def __init__(
        self,
        outbox: Outbox,
        service: HubSpotService,
        limiter: SharedRateLimit,
        worker_id: str,
        stop: threading.Event,
        policy: RetryPolicy,
        timings: Timings | None = None,
        ownership: Ownership | None = None,
    ) -> None:
        self.timings = timings or Timings()
        self.ownership = ownership or Ownership()
        self.outbox = outbox
        self.service = service
        self.limiter = limiter
        self.worker_id = worker_id
        self.stop = stop
        self.policy = policy
        self.paused_until: datetime | None = None
        self._contact_links: dict[str, str] = {}
        self._claimed: set[str] = set()
        #: The properties last sent for each group of the claim (by id of the group).
        self._sent: dict[int, set[str]] = {}

    def _call(self, groups: Sequence[Group], fn: Callable[..., T], *args: Any) -> T:
        """One HubSpot request for ``groups``, under the rate limit and a fresh lease."""
        with self.timings.measure(RATE_LIMIT):
            slot = self.limiter.acquire(self.stop)
            if slot is None:
                raise Stopping()
        rows = [r for g in groups for r in g.rows]
        if not self.outbox.renew(self.worker_id, rows):
            raise LeaseLost()
        try:
            with self.timings.measure(HUBSPOT):
                return fn(*args)
        finally:
            with self.timings.measure(RATE_LIMIT):
                self.limiter.answered(slot)

    def _caller(self, groups: Sequence[Group]) -> Call:
        """``_call`` for ``groups``, for the helpers that read before writing."""
        return lambda fn, *args: self._call(groups, fn, *args)

    def deliver(self, groups: list[Group]) -> None:
        """Contacts first (a ticket being created needs its contact), then tickets, then forms."""
        writes = ContactWrites()
        later: list[Group] = []
        # The contacts' links, new tickets' owners' included, in one query, not one per record.
        self._claimed = {g.entity for g in groups}
        self._sent = {}
        users = [g.entity.removeprefix("user:") for g in groups if g.entity.startswith("user:")]
        owners = [
            str(json.loads(g.rows[0].payload).get("user_id"))
            for g in groups
            if g.rows[0].kind == TICKET_CREATE
        ]
        self._contact_links = self.outbox.links("contact", users + owners)
        for group in groups:
            kind = group.rows[0].kind
            if kind in (CONTACT_UPSERT, CONTACT_UPDATE, CONTACT_DELETE):
                self._guard([group], lambda gs: self._contact(gs[0], writes))
            elif kind in (TICKET_CREATE, TICKET_UPDATE, TICKET_MESSAGE, FORM_SUBMIT):
                later.append(group)
            else:
                self.outbox.park(group.rows, self.worker_id, f"unknown delivery kind {kind!r}")
        for _ in range(CONTACT_ROUNDS):
            for chunk in writes.take(writes.creates):
                self._guard(chunk, lambda gs: self._create_contacts(gs, writes))
            for chunk in writes.take(writes.updates):
                self._guard(chunk, lambda gs: self._update_contacts(gs, writes))
            for chunk in writes.take(writes.upserts):
                self._guard(chunk, lambda gs: self._upsert_contacts(gs, writes))
        for group in writes.pending():
            self.fail(group, StillMoving("the contact was created and deleted meanwhile"))
        for group in later:
            if group.rows[0].kind == FORM_SUBMIT:
                self._guard([group], lambda gs: self._submit_form(gs[0]))
                continue
            own, messages = split_messages(group)
            if own is not None:
                self._guard([own], lambda gs: self._ticket(gs[0]))
            if messages is not None:  # after the ticket's own rows: its creation first
                self._guard([messages], lambda gs: self._messages(gs[0]))

    def _guard(self, groups: list[Group], deliver: Callable[[list[Group]], None]) -> None:
        """Delivers ``groups`` (one request for a batch), recording any failure on them."""
        outcome = self._attempt(groups, deliver)
        if isinstance(outcome, REFUSALS):
            self._refused(groups, deliver, outcome)

    def _attempt(
        self, groups: list[Group], deliver: Callable[[list[Group]], None]
    ) -> str | Refusal:
        """Runs ``deliver`` once. SENT: HubSpot answered and the outcome is recorded. STOP:
        the rows are left as they are. OTHER: another failure is recorded on the groups.
        A refusal (returned, not recorded): HubSpot refused the request for a record in it."""
        if self.paused_until is not None:  # HubSpot refuses everything until the reset
            for group in groups:
                self.outbox.defer_until(group.rows, self.worker_id, self.paused_until)
            return OTHER
        try:
            deliver(groups)
        except (Stopping, LeaseLost):
            return STOP
        except DailyLimitReached as exc:
            # Not the rows' fault: they wait for the reset, attempts untouched, and every
            # worker on the database pauses with them.
            self._pause(groups, exc)
            return OTHER
        except REFUSALS as exc:
            return exc
        except HubSpotError as exc:
            for group in groups:
                self.fail(group, exc)
            return OTHER
        except Exception as exc:  # a bug must park the rows, not kill the worker
            for group in groups:
                self.outbox.park(group.rows, self.worker_id, f"{type(exc).__name__}: {exc}")
            return OTHER
        return SENT

    def _refused(
        self, groups: list[Group], deliver: Callable[[list[Group]], None], refusal: Refusal
    ) -> None:
        """HubSpot refused the whole batch for some record in it and applied none of it:
        finds that record, sending the rest.

        Each step sends half of the records under suspicion: sent, those are delivered and
        the refused record is in the other half; refused, it is in this half and the other
        half waits, untried. When one record is left, it takes the refusal, and the untried
        records go in one request. One bad record in a batch of n so costs at most
        1 + ceil(log2 n) requests more than the batch alone (8 for 100), and no record is
        sent again once HubSpot took it. A record found by elimination rather than sent
        alone takes the refusal only when the refusal names a property the record was
        sent with (a refused value depends on that record alone); otherwise it is sent
        alone to see (one request more).
        """
        if len(groups) == 1:
            self.fail(groups[0], refusal)
            return
        suspects, alone = groups, False
        untried: list[Group] = []
        while len(suspects) > 1:
            middle = len(suspects) // 2
            half, other = suspects[:middle], suspects[middle:]
            outcome = self._attempt(half, deliver)
            if outcome == STOP:
                return
            if outcome == OTHER:  # the refused record may be in `half`: the rest goes afresh
                self._guard(other + untried, deliver)
                return
            if isinstance(outcome, REFUSALS):
                suspects, untried, refusal, alone = half, other + untried, outcome, True
            else:
                suspects, alone = other, False
        if alone or self._refuses_a_value_of(suspects[0], refusal):
            self.fail(suspects[0], refusal)
        else:
            self._guard(suspects, deliver)
        if untried:
            self._guard(untried, deliver)

    def _refuses_a_value_of(self, group: Group, refusal: Refusal) -> bool:
        """Whether ``refusal`` refused a value of a property sent for ``group``."""
        if refusal.category != "VALIDATION_ERROR":
            return False
        sent = self._sent.get(id(group), set())
        return any(
            name in sent
            for detail in refusal.details
            if isinstance(detail.get("context"), dict)
            for name in detail["context"].get("propertyName") or []
        )

    def _pause(self, groups: list[Group], exc: DailyLimitReached) -> None:
        """Not the rows' fault: they wait for the reset with their attempts untouched, and
        every worker on the database pauses with them."""
        if self.paused_until is None:
            log.warning(
                "HubSpot's daily API limit is spent: delivery paused until %s", exc.resets_at
            )
        self.paused_until = exc.resets_at
        self.outbox.pause_until(exc.resets_at)
        for group in groups:
            self.outbox.defer_until(group.rows, self.worker_id, exc.resets_at)

    def fail(self, group: Group, exc: HubSpotError) -> None:
        """Counts a failed attempt on the group's rows (retried later), or parks them."""
        if isinstance(exc, DailyLimitReached):
            self._pause([group], exc)
            return
        message = describe(exc)
        if exc.transient:
            attempts = max(r.attempts for r in group.rows) + 1
            delay = self.policy.delay(attempts, exc.retry_after)
            self.outbox.retry_later(
                group.rows,
                self.worker_id,
                message,
                delay,
                self.policy.max_attempts,
                exc.correlation_id,
            )
        else:
            self.outbox.park(group.rows, self.worker_id, message, exc.correlation_id)

    # -- contacts ------------------------------------------------------------------------------

    def _contact(self, group: Group, writes: ContactWrites) -> None:
        plan = contact_plan(group.changes())
        hubspot_id: str | None = None
        if plan.delete is not None:
            hubspot_id = self._delete_contact(group, plan.delete)
            self.outbox.unlink("contact", plan.user_id)
        if not plan.writes:
            self.outbox.delivered(group.rows, self.worker_id, hubspot_id)
            if plan.delete is not None and plan.delete["action"] == "gdpr_delete":
                # Erased in HubSpot: erase what the outbox still holds of them too.
                self.outbox.erase_user(
                    plan.user_id,
                    [plan.delete.get("email", "")],
                    up_to_id=max(r.id or 0 for r in group.rows),
                )
            return
        if plan.delete is None:
            linked = self._contact_links.get(plan.user_id)
        else:
            linked = self.outbox.link("contact", plan.user_id)
        if linked is None and len(plan.emails) > 1:
            # The email changed before the contact was linked: an earlier attempt may have
            # created it under an older email, with its answer lost. Update that one.
            linked = self._find_by_older_email(group, plan)
        if linked is None and not any(r.attempts for r in group.rows):
            writes.create(group, plan)  # batched, HubSpot answering each one
        elif linked is None:  # an earlier attempt may have created it, its answer lost
            writes.upsert(group, plan)
        elif plan.whole and not plan.email_changed:
            writes.upsert(group, plan)  # by email, batched
        elif plan.properties(linked=True):
            writes.update(group, plan, linked)  # by id, batched
        else:
            self.outbox.delivered(group.rows, self.worker_id, linked, ("contact", plan.user_id))

    def _find_by_older_email(self, group: Group, plan: ContactPlan) -> str | None:
        for email in plan.emails[:-1]:
            found = self._call([group], self.service.get_contact_by_email, email)
            if found is not None:
                self.outbox.set_link("contact", plan.user_id, found.id)
                plan.whole = True  # bring every property up to date, the email included
                plan.email_changed = True
                return found.id
        return None

    def _update_contacts(self, groups: list[Group], writes: ContactWrites) -> None:
        updates = owned_updates(
            self._caller(groups),
            self.service,
            self.ownership.contacts,
            [
                (
                    writes.ids[id(g)],
                    writes.plans[id(g)].properties(linked=id(g) not in writes.whole),
                )
                for g in groups
            ],
        )
        idle = [g for g, (_, props) in zip(groups, updates, strict=True) if not props]
        if idle:  # everything these changed belongs to HubSpot's users now
            self.outbox.delivered_many(
                self.worker_id,
                [
                    (g.rows, writes.ids[id(g)], ("contact", writes.plans[id(g)].user_id))
                    for g in idle
                ],
            )
            groups = [g for g in groups if g not in idle]
            updates = [u for u in updates if u[1]]
            if not groups:
                return
        self._sent.update(
            (id(g), set(props)) for g, (_, props) in zip(groups, updates, strict=True)
        )
        try:
            result = self._call(groups, self.service.update_contacts, updates)
        except NotFound:
            if len(groups) > 1:  # some contact of the batch is gone: find it by halves
                raise BadRequest("a contact of the batch no longer exists", status=404) from None
            self.outbox.unlink("contact", writes.plans[id(groups[0])].user_id)
            writes.create(groups[0], writes.plans[id(groups[0])])
            return
        updated = {c.id for c in result.results}
        refused = {i: e for e in result.errors for i in e.ids}
        done: list[tuple[Sequence[OutboxRow], str | None, tuple[str, str] | None]] = []
        for group in groups:
            plan, contact_id = writes.plans[id(group)], writes.ids[id(group)]
            if contact_id in updated:
                done.append((group.rows, contact_id, ("contact", plan.user_id)))
            elif contact_id in refused and refused[contact_id].category != "OBJECT_NOT_FOUND":
                reason = refused[contact_id].message
                self.outbox.park(
                    group.rows, self.worker_id, f"HubSpot refused the contact: {reason}"
                )
            else:  # deleted in HubSpot meanwhile: create it again from the whole contact
                self.outbox.unlink("contact", plan.user_id)
                writes.create(group, plan)
        if done:
            self.outbox.delivered_many(self.worker_id, done)

    def _create_contacts(self, groups: list[Group], writes: ContactWrites) -> None:
        """Creates the contacts of users with no link; HubSpot answers each one. An email
        HubSpot has already (an earlier attempt whose answer was lost, a contact made in
        HubSpot) names its contact: that one is written whole by id instead."""
        merged: dict[str, dict[str, str]] = {}
        emails: dict[int, str] = {}
        for group in groups:
            props = writes.plans[id(group)].properties(linked=False)
            self._sent[id(group)] = set(props)
            emails[id(group)] = props["email"].lower()
            merged.setdefault(emails[id(group)], {}).update(props)
        outcomes = self._call(groups, self.service.create_contacts, list(merged.values()))
        answers = dict(zip(merged, outcomes, strict=True))
        done: list[tuple[Sequence[OutboxRow], str | None, tuple[str, str] | None]] = []
        for group in groups:
            plan, outcome = writes.plans[id(group)], answers[emails[id(group)]]
            if isinstance(outcome, CrmObject):
                done.append((group.rows, outcome.id, ("contact", plan.user_id)))
            elif outcome.existing_id:
                writes.update(group, plan, outcome.existing_id, whole=True)
            elif outcome.category is None:  # HubSpot's answer left it out
                self.fail(group, HubSpotError(outcome.message))
            else:
                self.outbox.park(
                    group.rows, self.worker_id, f"HubSpot refused the contact: {outcome.message}"
                )
        if done:
            self.outbox.delivered_many(self.worker_id, done)

    def _upsert_contacts(self, groups: list[Group], writes: ContactWrites) -> None:
        merged: dict[str, dict[str, str]] = {}
        emails: dict[int, str] = {}
        for group in groups:
            props = writes.plans[id(group)].properties(linked=False)
            self._sent[id(group)] = set(props)
            emails[id(group)] = props["email"]
            merged.setdefault(props["email"], {}).update(props)
        held = owned_upserts(self._caller(groups), self.service, self.ownership.contacts, merged)
        result = self._call(groups, self.service.upsert_contacts, list(merged.values()))
        late = created_after_all(result.results, held)
        if late:  # gone between the read and the upsert, which created it: it is ours
            self._call(groups, self.service.update_contacts, late)
        ids = {(c.properties.get("email") or "").lower(): c.id for c in result.results}
        refused = {i.lower(): e.message for e in result.errors for i in e.ids}
        done: list[tuple[Sequence[OutboxRow], str | None, tuple[str, str] | None]] = []
        for group in groups:
            email = emails[id(group)].lower()
            user_id = writes.plans[id(group)].user_id
            if email in ids:
                done.append((group.rows, ids[email], ("contact", user_id)))
            elif email in refused:
                self.outbox.park(
                    group.rows, self.worker_id, f"HubSpot refused the contact: {refused[email]}"
                )
            else:
                self.fail(group, HubSpotError("HubSpot's answer did not include this contact"))
        if done:
            self.outbox.delivered_many(self.worker_id, done)

    def _delete_contact(self, group: Group, delete: dict[str, Any]) -> str | None:
        contact_id = self.outbox.link("contact", delete["user_id"])
        if contact_id is None:
            found = self._call([group], self.service.get_contact_by_email, delete["email"])
            contact_id = found.id if found else None
        if contact_id is None:
            return None
        try:
            if delete["action"] == "gdpr_delete":
                self._call([group], self.service.gdpr_delete_contact, contact_id)
            else:
                self._call([group], self.service.archive_contact, contact_id)
        except NotFound:
            pass  # already gone: what we wanted
        return contact_id

    def _ticket_contact(self, group: Group, user_id: str, contact: dict[str, str]) -> str | None:
        """The ticket's contact id; None when the user's own changes must reach HubSpot first.

        The user's link decides, read as it is now: another worker may have created and
        linked the user's contact since this claim began. While the user's contact has rows
        of its own in the queue, the ticket waits for them (its copy of the contact may be
        older). Only a user with neither gets a contact made from the ticket's copy, and the
        user's link is then set only if still absent, never moved.
        """
        entity = f"user:{user_id}"
        # Read with the claim, a link is only a hint: this claim may have just unlinked it.
        linked = None if entity in self._claimed else self._contact_links.get(user_id)
        if linked:
            return linked
        linked, until = self.outbox.link_or_pending("contact", user_id, entity)
        if linked:
            return linked
        if until is not None:
            self.outbox.defer_until(group.rows, self.worker_id, until)
            return None
        contact_id, created = self._create_ticket_contact(group, contact)
        kept = self.outbox.link_unless_held("contact", user_id, entity, contact_id, self.worker_id)
        if kept != contact_id and created:
            # The user's own contact was linked, or is being written, while this one was
            # made from the ticket's older copy: a second contact must not stay behind.
            log.info(
                "Contact %s made from a ticket's copy of user %s archived: the user's own "
                "contact was being written meanwhile",
                contact_id,
                user_id,
            )
            self._call([group], self.service.archive_contact, contact_id)
        if kept is None:  # the ticket looks again shortly, and then waits for those rows
            self.outbox.defer_until(group.rows, self.worker_id, utcnow())
        return kept

    def _create_ticket_contact(self, group: Group, contact: dict[str, str]) -> tuple[str, bool]:
        """Creates the contact from the ticket's copy; its id, and False when it existed."""
        try:
            return self._call([group], self.service.create_contact, contact).id, True
        except Conflict as exc:
            if exc.existing_id:
                return exc.existing_id, False
            found = self._call([group], self.service.get_contact_by_email, contact["email"])
            if found is None:
                raise
            return found.id, False

    # -- tickets -------------------------------------------------------------------------------

    def _ticket(self, group: Group) -> None:
        plan = ticket_plan(group.changes())
        link = ("ticket", plan.ticket_id)
        if plan.create is not None:
            contact_id = self._ticket_contact(group, plan.create["user_id"], plan.create["contact"])
            if contact_id is None:
                return  # deferred behind the user's own contact changes
            props, held = owned_ticket_create(
                self._caller([group]),
                self.service,
                self.ownership.tickets,
                plan.ticket_id,
                plan.properties,
            )
            ticket = self._call([group], self.service.upsert_ticket, plan.ticket_id, props)
            if ticket.new and held:  # gone between the read and the upsert: it is ours
                self._call([group], self.service.update_ticket, ticket.id, held)
            self.outbox.set_link("ticket", plan.ticket_id, ticket.id)
            self._call([group], self.service.associate_ticket_with_contact, ticket.id, contact_id)
            self.outbox.delivered(group.rows, self.worker_id, ticket.id)  # linked just above
            return
        ticket_id = self.outbox.link("ticket", plan.ticket_id)
        if ticket_id is None:
            self._wait_for_creation(group)
            return
        props = owned_ticket_update(
            self._caller([group]), self.service, self.ownership.tickets, ticket_id, plan.properties
        )
        if props:
            self._call([group], self.service.update_ticket, ticket_id, props)
        self.outbox.delivered(group.rows, self.worker_id, ticket_id, link)

    def _wait_for_creation(self, group: Group) -> None:
        creation = self.outbox.first_row(group.entity, TICKET_CREATE)
        if creation is not None and creation.status == DEAD:
            # Parked: its changes wait (no attempt spent) until the admin replays it.
            self.outbox.defer(group.rows, self.worker_id, WAIT_FOR_CREATE_S)
            return
        self.outbox.park(
            group.rows,
            self.worker_id,
            "HubSpot has no ticket for this panel ticket: its creation was never sent "
            "(it was opened before HubSpot was enabled)",
        )

    # -- form submissions ----------------------------------------------------------------------

    def _submit_form(self, group: Group) -> None:
        """Posts a recorded submission, built whole when it was recorded.

        Not idempotent, and nothing can make it so: HubSpot files every POST as a new
        submission and has no key to upsert one by. Delivery is at least once; a retry
        after a lost answer can file a second copy, a 400 or 404 parks the row at once.
        """
        for change in group.changes():
            payload = change.payload
            self._call(
                [group],
                self.service.submit_form,
                payload["portal_id"],
                payload["form_guid"],
                payload["body"],
            )
        self.outbox.delivered(group.rows, self.worker_id)


def describe(exc: HubSpotError) -> str:
    status = f"HTTP {exc.status}" if exc.status else "no answer"
    category = f" {exc.category}" if exc.category else ""
    if exc.remedy:  # what the admin reading it must do
        return f"{status}{category}: {exc.message.rstrip('.')}. {exc.remedy}"
    return f"{status}{category}: {exc.message}"
