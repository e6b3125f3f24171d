"""A request budget shared by every worker on one database: N HubSpot calls per rolling window.

Each call takes a slot row; the slots of the last ``interval_s`` are counted under a
lock (PostgreSQL advisory lock; SQLite's write lock), so three worker processes behind
a load balancer together stay under HubSpot's per-10-seconds limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, func, text
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.delivery.outbox_table import RateSlot

ADVISORY_KEY = 0x48554253  # "HUBS"
MARGIN_S = 0.25


class SharedRateLimit:
    def __init__(self, engine: Engine, limit: Callable[[], int], interval_s: float = 10.0) -> None:
        self.engine = engine
        self.limit = limit
        self.interval_s = interval_s

    def acquire(self, stop: threading.Event) -> bool:
        """Blocks until a slot is free; False when ``stop`` was set while waiting."""
        while not stop.is_set():
            wait = self._try_take()
            if wait is None:
                return True
            stop.wait(min(wait, 1.0))
        return False

    def _try_take(self) -> float | None:
        now = time.time()
        # A slot is taken a moment before its request reaches HubSpot, which counts it on
        # arrival: the margin keeps that jitter from ever making HubSpot see one too many.
        window = self.interval_s + MARGIN_S
        horizon = now - window
        with Session(self.engine) as session:
            if self.engine.dialect.name == "postgresql":
                session.exec(
                    text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=ADVISORY_KEY)
                )  # type: ignore[call-overload]
            session.exec(delete(RateSlot).where(col(RateSlot.at) < horizon))
            used = session.exec(
                select(func.count()).select_from(RateSlot).where(col(RateSlot.at) >= horizon)
            ).one()
            if used >= self.limit():
                oldest = session.exec(select(func.min(RateSlot.at))).one() or now
                session.rollback()
                return max(0.01, oldest + window - now)
            session.add(RateSlot(at=now))
            session.commit()
            return None
