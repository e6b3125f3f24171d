"""A request budget shared by every worker on one database: N HubSpot calls per rolling window.

The budget is N slot rows (ids 1 to N), each holding when it was last used. A call takes
a slot whose last use has left the window, in one UPDATE that re-checks that time on the
row it writes: two workers can never both take one slot, so at most N calls start in any
window, whatever the number of workers and processes. On PostgreSQL concurrent takers
skip each other's locked slots instead of queueing on one lock; SQLite's single writer
orders them. A slot taken is never given back: a call that fails still counted at HubSpot.

HubSpot counts a request when it arrives, which is some time after its slot was taken
(a worker descheduled, a slow network). So the slot is stamped again when the answer
comes back (:meth:`SharedRateLimit.answered`): HubSpot counted the request before that,
and the slot's next request starts a full window later, however long this one took to
get there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.outbox_table import RateSlot

log = logging.getLogger(__name__)

#: Kept between a slot's answer and its next use: the clocks of workers on different
#: hosts, and a request whose answer was lost (its slot keeps the time it was taken).
MARGIN_S = 0.1
#: The rolling window the limit counts calls in (the setting is "requests per 10 seconds").
INTERVAL_S = 10.0
_SLOTS = RateSlot.metadata.tables["hubspot_rate_slots"]


def remaining(connection: Connection, limit: int, interval_s: float = INTERVAL_S) -> int:
    """How many calls may start now, of ``limit`` per window: the slots not used within it
    (a slot not made yet is free). One query; for the metrics and the status."""
    horizon = clock.now() - (interval_s + MARGIN_S)
    busy = connection.execute(
        select(func.count()).where(_SLOTS.c.id <= limit, _SLOTS.c.at >= horizon)
    ).scalar()
    return max(0, limit - int(busy or 0))


class SharedRateLimit:
    """``limit()`` calls per ``interval_s`` for every worker on ``engine`` together.

    A limit lowered by the admin applies fully once the calls of the last window have
    left it; a raised one at once.
    """

    def __init__(
        self, engine: Engine, limit: Callable[[], int], interval_s: float = INTERVAL_S
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.interval_s = interval_s
        self._skip_locked = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def __repr__(self) -> str:
        return f"SharedRateLimit(interval_s={self.interval_s})"

    def acquire(self, stop: threading.Event) -> int | None:
        """Blocks until a slot is free and returns it; None when ``stop`` was set meanwhile.

        Once the request's answer is back (or it failed), pass the slot to :meth:`answered`.
        """
        while not stop.is_set():
            slot, wait = self._try_take()
            if slot is not None:
                return slot
            stop.wait(min(wait, 1.0))
        return None

    @contextmanager
    def calls(self, stop: threading.Event, count: int = 1) -> Iterator[bool]:
        """Holds ``count`` slots for the requests made inside, each stamped on the way out;
        False when ``stop`` was set before all were taken (make no request then)."""
        slots: list[int] = []
        try:
            while len(slots) < count and (slot := self.acquire(stop)) is not None:
                slots.append(slot)
            yield len(slots) == count
        finally:
            for slot in slots:
                self.answered(slot)

    def answered(self, slot: int) -> None:
        """Stamps ``slot`` with now: its request has reached HubSpot and been counted.

        Without the stamp the slot keeps the time it was taken, and the margin alone
        covers the request's way to HubSpot; a database error here is logged, not raised,
        since the request itself is done.
        """
        try:
            with self._autocommit.connect() as connection:
                connection.execute(update(_SLOTS).where(_SLOTS.c.id == slot).values(at=clock.now()))
        except SQLAlchemyError as exc:
            log.warning("HubSpot rate limit: slot %d not stamped (%s)", slot, type(exc).__name__)

    def _try_take(self) -> tuple[int | None, float]:
        """Takes a slot (its id), or says how long until one frees up."""
        now = clock.now()
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
                .returning(_SLOTS.c.id)
            ).scalar()
            if taken is not None:
                return int(taken), 0.0
            slots, oldest = connection.execute(
                select(func.count(), func.min(_SLOTS.c.at)).where(_SLOTS.c.id <= limit)
            ).one()
        if slots < limit:  # a new database, or a raised limit: the missing slots are free
            self._add_slots(limit)
            return None, 0.0
        return None, max(0.01, (oldest or now) + window - now)

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
