"""What the plugin counts, as it happens: settled deliveries, HubSpot requests, webhook events.

Off unless metrics are wanted (:func:`metrics_wanted`): the ``metrics`` extra installed,
or ``SKYPANEL_HUBSPOT_METRICS=1``; ``SKYPANEL_HUBSPOT_METRICS=0`` turns them off even
then. Every count goes to the counters table (:mod:`.counters`), never to memory alone,
so any process's scrape sees every process's counts:

- a settled delivery is counted in the transaction that settles its rows, so its count
  commits exactly when its state does;
- HubSpot requests a worker makes while delivering a batch are added up and written in
  one transaction when the batch is done; any other request (an admin's page, a poll) is
  written as it ends. A worker killed mid-batch loses that batch's request counts, never a
  delivery's.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.metrics import counters
from skypanel_hubspot_plugin.metrics.counters import Increments
from skypanel_hubspot_plugin.metrics.names import (
    DELIVERIES,
    DELIVERY_DELAY,
    REQUEST_DURATION,
    REQUESTS,
    WEBHOOK_EVENTS,
)

log = logging.getLogger(__name__)

ENV = "SKYPANEL_HUBSPOT_METRICS"
DELIVERED = "delivered"
RETRIED = "retried"
PARKED = "parked"


def metrics_wanted() -> bool:
    """Whether this process counts: ``SKYPANEL_HUBSPOT_METRICS`` when set (1/0, on/off,
    true/false), else whether prometheus_client (the ``metrics`` extra) is installed."""
    setting = os.environ.get(ENV, "").strip().lower()
    if setting in ("1", "on", "true", "yes"):
        return True
    if setting in ("0", "off", "false", "no"):
        return False
    try:
        return importlib.util.find_spec("prometheus_client") is not None
    except (ImportError, ValueError):  # a module set to None, or a broken install
        return False


class Settled(Protocol):
    """What a delivery count needs of an outbox row."""

    kind: str
    created_at: datetime


class Recorder:
    """Counts for one database; ``enabled`` False makes every method a no-op."""

    def __init__(self, engine: Engine, *, enabled: bool | None = None) -> None:
        self.engine = engine
        self.enabled = metrics_wanted() if enabled is None else enabled
        self._pending: Increments = {}
        self._lock = threading.Lock()
        self._batch = threading.local()

    def __repr__(self) -> str:
        return f"Recorder(enabled={self.enabled})"

    # -- deliveries: in the transaction that settles them ------------------------------------

    def settled(self, connection: Connection, rows: Sequence[Settled], outcome: str) -> None:
        """Counts ``rows`` settled with ``outcome`` (delivered, retried, parked) inside the
        settling transaction; a delivered row's delay since the panel's commit too."""
        if not self.enabled or not rows:
            return
        found: Increments = {}
        now = clock.utcnow()
        for row in rows:
            counters.count(found, DELIVERIES, kind=row.kind, outcome=outcome)
            if outcome == DELIVERED:
                created = row.created_at
                created = created if created.tzinfo else created.replace(tzinfo=UTC)
                delay = (now - created).total_seconds()
                counters.observe(found, DELIVERY_DELAY, delay, kind=row.kind)
        counters.add(connection, found)

    # -- HubSpot requests --------------------------------------------------------------------

    def request(self, area: str, status: str, seconds: float) -> None:
        """One HubSpot request ended: its API area, its answer's status, how long it took."""
        if not self.enabled:
            return
        found: Increments = {}
        counters.count(found, REQUESTS, area=area, status=status)
        counters.observe(found, REQUEST_DURATION, seconds, area=area)
        if getattr(self._batch, "depth", 0) or not self._write(found):
            self._merge(found)  # written at the batch's end, or with the next flush

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Requests made by this thread inside are written together, once, at the end."""
        self._batch.depth = getattr(self._batch, "depth", 0) + 1
        try:
            yield
        finally:
            self._batch.depth -= 1
            if not self._batch.depth:
                self.flush()

    def flush(self) -> None:
        """Writes the requests counted so far (by every thread of this process)."""
        with self._lock:
            found, self._pending = self._pending, {}
        if found and not self._write(found):
            self._merge(found)  # kept for the next flush

    # -- webhooks ----------------------------------------------------------------------------

    def webhook_events(self, outcomes: Mapping[tuple[str, str], int]) -> None:
        """Webhook events by (subscription type, outcome), as the route answered them."""
        if not self.enabled:
            return
        found: Increments = {}
        for (kind, outcome), n in outcomes.items():
            counters.count(found, WEBHOOK_EVENTS, float(n), type=kind, outcome=outcome)
        self._write(found)

    def _merge(self, found: Increments) -> None:
        with self._lock:
            for key, by in found.items():
                self._pending[key] = self._pending.get(key, 0.0) + by

    def _write(self, found: Increments) -> bool:
        # A count must never fail what it counts: a database error is logged, not raised.
        try:
            counters.add_now(self.engine, found)
        except SQLAlchemyError as exc:
            log.warning("HubSpot metrics not written (%s)", type(exc).__name__)
            return False
        return True
