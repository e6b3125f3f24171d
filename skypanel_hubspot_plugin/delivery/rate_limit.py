"""A request budget shared by every worker on one database: N HubSpot calls per rolling window.

The budget is N slot rows (ids 1 to N), each holding when it was last used. A call takes
a slot whose last use has left the window, in one UPDATE that re-checks that time on the
row it writes: two workers can never both take one slot, so at most N calls start in any
window, whatever the number of workers and processes. On PostgreSQL concurrent takers
skip each other's locked slots instead of queueing on one lock; SQLite's single writer
orders them. A slot taken is never given back: a call that fails still counted at HubSpot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from skypanel_hubspot_plugin.delivery.outbox_table import RateSlot

#: A slot is taken a moment before its request reaches HubSpot, which counts it on
#: arrival: the margin keeps that jitter from ever making HubSpot see one too many.
MARGIN_S = 0.5
_SLOTS = RateSlot.metadata.tables["hubspot_rate_slots"]


class SharedRateLimit:
    """``limit()`` calls per ``interval_s`` for every worker on ``engine`` together.

    A limit lowered by the admin applies fully once the calls of the last window have
    left it; a raised one at once.
    """

    def __init__(self, engine: Engine, limit: Callable[[], int], interval_s: float = 10.0) -> None:
        self.engine = engine
        self.limit = limit
        self.interval_s = interval_s
        self._skip_locked = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def __repr__(self) -> str:
        return f"SharedRateLimit(interval_s={self.interval_s})"

    def acquire(self, stop: threading.Event) -> bool:
        """Blocks until a slot is free; False when ``stop`` was set while waiting."""
        while not stop.is_set():
            wait = self._try_take()
            if wait is None:
                return True
            stop.wait(min(wait, 1.0))
        return False

    def _try_take(self) -> float | None:
        """Takes a slot (None), or says how long until one frees up."""
        now = time.time()
        window = self.interval_s + MARGIN_S
        horizon = now - window
        limit = self.limit()
        free = (
            select(_SLOTS.c.id)
            .where(_SLOTS.c.id <= limit, _SLOTS.c.at < horizon)
            .limit(1)
            .with_for_update(skip_locked=self._skip_locked)
        )
        # One statement, atomic by itself: no transaction around it, two round trips fewer.
        with self._autocommit.connect() as connection:
            taken = connection.execute(
                update(_SLOTS)
                .where(_SLOTS.c.id == free.scalar_subquery(), _SLOTS.c.at < horizon)
                .values(at=now)
            ).rowcount
            if taken:
                return None
            slots, oldest = connection.execute(
                select(func.count(), func.min(_SLOTS.c.at)).where(_SLOTS.c.id <= limit)
            ).one()
        if slots < limit:  # a new database, or a raised limit: the missing slots are free
            self._add_slots(limit)
            return 0.0
        return max(0.01, (oldest or now) + window - now)

    def _add_slots(self, limit: int) -> None:
        try:
            with self.engine.begin() as connection:
                have = set(
                    connection.execute(select(_SLOTS.c.id).where(_SLOTS.c.id <= limit)).scalars()
                )
                missing = [{"id": i, "at": 0.0} for i in range(1, limit + 1) if i not in have]
                if missing:
                    connection.execute(insert(_SLOTS), missing)
        except IntegrityError:  # another worker added them at the same moment
            pass
