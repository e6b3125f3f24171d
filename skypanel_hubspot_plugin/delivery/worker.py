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
import uuid
from collections.abc import Callable, Sequence

from skypanel_hubspot_plugin.delivery.coalesce import TICKET_CREATE
from skypanel_hubspot_plugin.delivery.context import DeliveryContext
from skypanel_hubspot_plugin.delivery.deliverer import Deliverer, RetryPolicy
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        runtime: DeliveryContext,
        *,
        batch_size: int = 100,
        idle_s: float = 0.5,
        policy: RetryPolicy | None = None,
        periodic: Sequence[Callable[[], object]] = (),
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

    def __repr__(self) -> str:
        return f"Worker(id={self.worker_id!r})"

    def run_once(self) -> int:
        """Claims and delivers one batch; returns how many rows it claimed."""
        settings = self.runtime.settings()
        if not settings.enabled or settings.token is None:
            return 0
        if self.runtime.outbox.paused_until() is not None:  # HubSpot's daily limit is spent
            return 0
        groups = self.runtime.outbox.claim(self.worker_id, self.batch_size)
        if not groups:
            return 0
        service = self.runtime.service()
        deliverer = Deliverer(
            self.runtime.outbox, service, self.limiter, self.worker_id, self.stop_event, self.policy
        )
        creating = [g for g in groups if any(r.kind == TICKET_CREATE for r in g.rows)]
        if creating and self._property_ready_for is not service:
            try:
                service.ensure_ticket_id_property()
                self._property_ready_for = service
            except HubSpotError as exc:
                # Only the tickets being created need the property; the rest still go.
                for group in creating:
                    deliverer.fail(group, exc)
                groups = [g for g in groups if g not in creating]
        deliverer.deliver(groups)
        return sum(len(g.rows) for g in groups) + sum(len(g.rows) for g in creating)

    def run_forever(self) -> None:
        log.info("HubSpot delivery worker %s started", self.worker_id)
        while not self.stop_event.is_set():
            try:
                claimed = self.run_once()
            except Exception:  # the database or settings may be briefly unusable
                log.exception("HubSpot delivery worker loop failed; retrying")
                claimed = 0
            for task in self.periodic:
                try:
                    task()
                except Exception:
                    log.exception("HubSpot worker task %r failed; retrying later", task)
            if not claimed:
                self.stop_event.wait(self.idle_s)
        released = self.runtime.outbox.release(self.worker_id)
        log.info("HubSpot delivery worker %s stopped (released %d)", self.worker_id, released)

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
