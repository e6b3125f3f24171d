"""The delivery worker: claims due outbox rows and delivers them, until told to stop.

By default the start-up hook runs one in a background thread of the panel process. A
host that prefers a separate process runs ``python -m skypanel_hubspot_plugin.worker
--database-url URL`` (several may share one PostgreSQL database).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from skypanel_hubspot_plugin.audit.trail import AuditTrail
from skypanel_hubspot_plugin.delivery.coalesce import TICKET_CREATE, TICKET_MESSAGE
from skypanel_hubspot_plugin.delivery.context import DeliveryContext
from skypanel_hubspot_plugin.delivery.deliverer import Deliverer, RetryPolicy
from skypanel_hubspot_plugin.delivery.messages import split_messages
from skypanel_hubspot_plugin.delivery.outbox import Group
from skypanel_hubspot_plugin.delivery.outbox_table import utcnow
from skypanel_hubspot_plugin.delivery.ownership import Ownership
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.delivery.timings import (
    CLAIMING,
    HUBSPOT,
    RATE_LIMIT,
    SETTLING,
    Timings,
)
from skypanel_hubspot_plugin.delivery.wake import Waker
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError

log = logging.getLogger(__name__)

#: The longest an idle worker sleeps without asking the database (two questions a minute).
IDLE_S = 30.0
#: After a wake that found nothing yet: when to look again, in seconds.
EAGER_LOOKS_S = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8)
#: How often a worker erases the personal data of deliveries past the retention, and
#: deletes the audit trail's entries past theirs.
PURGE_EVERY_S = 3600.0
#: The shortest wait before looking again at a row that was due but not claimable.
MIN_RECHECK_S = 0.05
#: How often a worker claiming full batches renews the database's statistics of the outbox.
ANALYZE_EVERY_S = 60.0


class Periodic(Protocol):
    """Work the worker also does now and then (polling HubSpot for ticket changes)."""

    def run_if_due(self) -> object: ...

    def seconds_until_due(self) -> float | None:
        """None while it has nothing to do (switched off)."""


class Worker:
    def __init__(
        self,
        runtime: DeliveryContext,
        *,
        batch_size: int = 100,
        idle_s: float = IDLE_S,
        policy: RetryPolicy | None = None,
        periodic: Sequence[Periodic] = (),
        timings: Timings | None = None,
    ) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.policy = policy or RetryPolicy()
        #: Called between batches (each decides itself whether it is due): ticket polling.
        self.periodic = tuple(periodic)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.limiter = SharedRateLimit(runtime.outbox.engine, lambda: runtime.settings().rate_limit)
        self._thread: threading.Thread | None = None
        self._property_ready_for: object = None
        self._message_property_ready_for: object = None
        self.timings = timings or Timings()
        self._next_purge = 0.0
        self._next_analyze = 0.0

    def __repr__(self) -> str:
        return f"Worker(id={self.worker_id!r})"

    def run_once(self) -> int:
        """Claims and delivers one batch; returns how many rows it claimed."""
        settings = self.runtime.settings()
        if not settings.enabled or settings.token is None:
            return 0
        if self.runtime.outbox.paused_until() is not None:  # HubSpot's daily limit is spent
            return 0
        with self.timings.measure(CLAIMING):
            groups = self.runtime.outbox.claim(self.worker_id, self.batch_size)
        if not groups:
            return 0
        if sum(len(g.rows) for g in groups) >= self.batch_size:
            self._analyze_if_due()
        return self.deliver(groups)

    def deliver(self, groups: list[Group]) -> int:
        """Delivers a claim of this worker's; returns how many rows it held."""
        # The batch's HubSpot requests are counted in one write, once it is done.
        with self.runtime.outbox.metrics.batch():
            return self._deliver(groups)

    def _deliver(self, groups: list[Group]) -> int:
        settings = self.runtime.settings()
        service = self.runtime.service()
        waits = Timings()  # this batch's own, apart from other threads sharing self.timings
        deliverer = Deliverer(
            self.runtime.outbox,
            service,
            self.limiter,
            self.worker_id,
            self.stop_event,
            self.policy,
            waits,
            Ownership.of(settings),
        )
        started = time.perf_counter()
        creating = [g for g in groups if any(r.kind == TICKET_CREATE for r in g.rows)]
        if creating and self._property_ready_for is not service:
            # The look and the creation it may need, under the shared budget like any call.
            with self.limiter.calls(self.stop_event, 2) as allowed:
                if not allowed:
                    return 0  # stopping: the claim is released on the way out
                try:
                    service.ensure_ticket_id_property()
                    self._property_ready_for = service
                except HubSpotError as exc:
                    # Only the tickets being created need the property; the rest still go.
                    for group in creating:
                        deliverer.fail(group, exc)
                    groups = [g for g in groups if g not in creating]
        messaging = [g for g in groups if any(r.kind == TICKET_MESSAGE for r in g.rows)]
        if messaging and self._message_property_ready_for is not service:
            with self.limiter.calls(self.stop_event, 2) as allowed:
                if not allowed:
                    return 0
                try:
                    service.ensure_message_id_property()
                    self._message_property_ready_for = service
                except HubSpotError as exc:
                    # The messages wait; the records' other rows still go.
                    for group in messaging:
                        own, messages = split_messages(group)
                        if messages is not None:
                            deliverer.fail(messages, exc)
                        if own is not None:
                            groups[groups.index(group)] = own
                        else:
                            groups.remove(group)
        deliverer.deliver(groups)
        if settings.retention_days == 0:
            self.runtime.outbox.purge(timedelta(0))
        # The rest of the delivery is the outbox's bookkeeping: links, settling, leases.
        waited = 0.0
        for phase in (RATE_LIMIT, HUBSPOT):
            seconds = waits.seconds.get(phase, 0.0)
            self.timings.add(phase, seconds)
            waited += seconds
        self.timings.add(SETTLING, time.perf_counter() - started - waited)
        return sum(len(g.rows) for g in groups) + sum(len(g.rows) for g in creating)

    def run_forever(self) -> None:
        """Delivers until stopped; idle, it sleeps until woken or until a row falls due.

        An idle worker asks the database one question per ``idle_s`` at most (when is the
        next row due?) and is woken at once when an event is recorded (see :mod:`.wake`).
        """
        log.info("HubSpot delivery worker %s started", self.worker_id)
        waker = Waker(self.runtime.outbox.engine, self.stop_event)
        waker.listen()
        eager: list[float] = []
        claim = True  # whether to try a claim next, or only ask when the next row is due
        try:
            while not self.stop_event.is_set():
                claimed = 0
                try:
                    if claim:
                        self._purge_if_due()
                        claimed = self.run_once()
                    self._run_periodic()
                    wait, claim = (0.0, True) if claimed else self._idle_wait(eager)
                except Exception:  # the database or settings may be briefly unusable
                    log.exception("HubSpot delivery worker loop failed; retrying")
                    wait, claim = min(self.idle_s, 1.0), True
                if claimed:
                    eager.clear()
                wait = min(wait, self._periodic_due_in())
                if wait > 0 and waker.wait(wait):
                    # Woken by an event whose transaction may not have committed yet:
                    # look again a few times soon before sleeping long.
                    eager[:] = list(EAGER_LOOKS_S)
                    claim = True
        finally:
            waker.close()
        released = self.runtime.outbox.release(self.worker_id)
        log.info("HubSpot delivery worker %s stopped (released %d)", self.worker_id, released)

    def _purge_if_due(self) -> None:
        """Erases delivered and parked rows' personal data past the retention, and deletes
        audit entries past theirs, once an hour."""
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_S
        settings = self.runtime.settings()
        audit_days = settings.audit_retention_days
        forgotten = AuditTrail(self.runtime.outbox.engine).delete_older_than(
            timedelta(days=audit_days)
        )
        if forgotten:
            log.info("Deleted %d audit entries older than %d days", forgotten, audit_days)
        days = settings.retention_days
        purged = self.runtime.outbox.purge(timedelta(days=days))
        if purged.erased or purged.deleted:
            log.info(
                "Erased the personal data of %d deliveries and deleted %d parked ones, "
                "older than %d days",
                purged.erased,
                purged.deleted,
                days,
            )

    def _analyze_if_due(self) -> None:
        """A full batch means a backlog, which may have come faster than autovacuum looks:
        the planner's statistics are renewed once a minute while it lasts."""
        now = time.monotonic()
        if now < self._next_analyze:
            return
        self._next_analyze = now + ANALYZE_EVERY_S
        with self.timings.measure(CLAIMING):
            self.runtime.outbox.analyze()

    def _run_periodic(self) -> None:
        for task in self.periodic:
            try:
                task.run_if_due()
            except Exception:
                log.exception("HubSpot worker task %r failed; retrying later", task)

    def _periodic_due_in(self) -> float:
        """How long the worker may sleep before a periodic task falls due."""
        due = [d for t in self.periodic if (d := t.seconds_until_due()) is not None]
        return max(0.0, min(due)) if due else self.idle_s

    def _idle_wait(self, eager: list[float]) -> tuple[float, bool]:
        """How long to sleep after a claim that found nothing, and whether to claim after.

        With nothing queued the answer is "sleep, then only ask again": an idle worker costs
        the database one small query per ``idle_s``.
        """
        if eager:
            return eager.pop(0), True
        settings = self.runtime.settings()
        if not settings.enabled or settings.token is None:
            return self.idle_s, False  # saving the settings wakes the worker
        due = self.runtime.outbox.next_due()
        if due is None:
            return self.idle_s, False
        # Something is queued but was not ours to take (leased, or waiting behind a row
        # another worker holds): look again when it falls due, and not in a busy loop.
        return max(MIN_RECHECK_S, min(self.idle_s, (due - utcnow()).total_seconds())), True

    def start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, name="hubspot-delivery", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
