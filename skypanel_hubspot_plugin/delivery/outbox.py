"""The outbox: recording events durably, and claiming, finishing, retrying and parking them.

Claims are leases: a worker that dies (even by SIGKILL) loses its rows when the lease
ends and another worker takes them, without an attempt counted against them. A claim
takes every queued row of the records it picks, and claims run one at a time (each
first updates a lock row), so a record's rows are never split between two workers. A
worker renews its lease before each HubSpot request and stops once it has lost it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    func,
    insert,
    or_,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import scoped_session
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery import delivery_log, wake
from skypanel_hubspot_plugin.delivery.coalesce import RECORD_KINDS, Change
from skypanel_hubspot_plugin.delivery.erasure import PURGED as PURGED
from skypanel_hubspot_plugin.delivery.outbox_admin import OutboxAdmin
from skypanel_hubspot_plugin.delivery.outbox_links import OutboxLinks
from skypanel_hubspot_plugin.delivery.outbox_queries import (
    INSERT_LINK,
    LINKS_TABLE,
    MOVE_LINK,
    by_record,
    one_of,
)
from skypanel_hubspot_plugin.delivery.outbox_table import (
    DEAD,
    DELIVERED,
    QUEUED,
    DeliveryLock,
    ObjectLink,
    OutboxRow,
    utcnow,
)
from skypanel_hubspot_plugin.metrics.recorder import DELIVERED as COUNT_DELIVERED
from skypanel_hubspot_plugin.metrics.recorder import PARKED, RETRIED, Recorder

log = logging.getLogger(__name__)


_OUTBOX = OutboxRow.metadata.tables["hubspot_outbox"]
#: The columns an event's row is recorded with; the rest keep their defaults.
RECORDED = (
    "kind",
    "entity",
    "payload",
    "status",
    "last_error",
    "attempts",
    "next_attempt_at",
    "created_at",
    "user_id",
)
INSERT_ROW = insert(_OUTBOX).values({c: bindparam(c, type_=_OUTBOX.c[c].type) for c in RECORDED})
#: On PostgreSQL: the row and the NOTIFY that wakes workers of other processes, together.
INSERT_ROW_NOTIFYING = wake.notifying(INSERT_ROW)
#: Settles one delivered row still held by the worker (run with many parameter sets).
SETTLE_DELIVERED = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("row_id"),
        _OUTBOX.c.claimed_by == bindparam("worker"),
        by_record(_OUTBOX.c.status, QUEUED),
    )
    .values(hubspot_id=bindparam("hubspot"))
)
CLAIM_LOCK = "claim"
#: Pages of due rows a claim looks through when the first ones belong to busy records.
CANDIDATE_PAGES = 4
#: How far past the clock a claim looks for due rows (see ``claim``).
CANDIDATE_SLACK = timedelta(seconds=1)
#: The lock row whose ``at`` holds, as a Unix time, until when delivery is paused.
PAUSE = "daily-limit-pause"
#: The shortest wait of a row deferred behind another record's rows.
MIN_WAIT_S = 0.5
#: PostgreSQL's planner statistics of the outbox, renewed by a busy worker (see ``analyze``).
ANALYZE = text("ANALYZE hubspot_outbox")


def _leased_until(row: OutboxRow) -> datetime:
    """The end of the row's lease as claimed (SQLite hands datetimes back without a zone)."""
    until = row.claimed_until
    if until is None:
        return datetime.min.replace(tzinfo=UTC)
    return until if until.tzinfo else until.replace(tzinfo=UTC)


@dataclass
class Group:
    """What one claim gives a worker for one record: its queued rows, oldest first, and
    the delivered rows newer than them (after a replay), which the fold must not undo."""

    entity: str
    rows: list[OutboxRow]
    settled_after: list[Change]

    def changes(self) -> list[Change]:
        return [Change.of(r.id, r.kind, r.payload) for r in self.rows] + self.settled_after


class Outbox(OutboxLinks, OutboxAdmin):
    """The plugin's queue of deliveries on the host's database."""

    def __init__(
        self, engine: Engine, *, lease_s: float = 60.0, metrics: Recorder | None = None
    ) -> None:
        self.engine = engine
        #: Counts each settled row in the transaction that settles it (when metrics are on).
        self.metrics = metrics or Recorder(engine)
        #: For the worker's one-statement reads and writes: no BEGIN and COMMIT around
        #: them, two round trips fewer each (a single statement is atomic on its own).
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.postgresql = engine.dialect.name == "postgresql"
        self.lease = timedelta(seconds=lease_s)

    def __repr__(self) -> str:
        return f"Outbox(engine={self.engine.url!r})"

    # -- recording (the hook side) -------------------------------------------------------------

    def record(
        self,
        kind: str,
        entity: str,
        payload: dict[str, Any],
        session: Any = None,
        *,
        dead_reason: str | None = None,
        user_id: str | None = None,
    ) -> None:
        """Adds one row; inside ``session`` (the host's transaction) when given, else on its own.

        ``user_id`` names the user who opened a ticket, on the ticket's creation row."""
        now = utcnow()
        values = {
            "kind": kind,
            "entity": entity,
            "payload": json.dumps(payload),
            "status": DEAD if dead_reason else QUEUED,
            "last_error": dead_reason,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "user_id": user_id,
        }
        # One cached Core statement: no ORM unit of work on the host's request path, and
        # on PostgreSQL the NOTIFY goes with the INSERT, so the panel waits one round trip.
        statement = INSERT_ROW_NOTIFYING if self.postgresql else INSERT_ROW
        if session is None:
            with self.engine.begin() as connection:
                connection.execute(statement, values)
                wake.recorded(self.engine, connection, notified=True)
        else:  # the host's Session or Connection: its commit or rollback decides
            if isinstance(session, scoped_session):
                # Flask-SQLAlchemy's ``db.session`` and other registries: the thread's own
                # Session, whose commit is watched (the proxy's is not: it would wake the
                # workers before the row is visible, and they would miss a slow commit).
                session = session()
            # A Session's own Connection, in the same transaction, skips the ORM's execute.
            target = session.connection() if isinstance(session, OrmSession) else session
            target.execute(statement, values)
            wake.recorded(self.engine, session, notified=True)

    # -- delivering (the worker side) ----------------------------------------------------------

    def claim(self, worker_id: str, limit: int) -> list[Group]:
        """Leases due rows to ``worker_id``: every queued row of each record it picks.

        A record is picked only when none of its queued rows waits for a retry or is leased
        to another worker, and then all of its queued rows are leased together, so one
        record's rows are never delivered out of order, by one worker or by several.
        Form submissions write no record and are leased one by one.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            # Which records to try is read before the lock, so that claims, which run one at
            # a time, hold it only for their UPDATE. That UPDATE checks again, under the
            # lock, that no queued row of a record is leased or waiting for a retry, and
            # takes all of a record's queued rows (those recorded since included) or none.
            # The clock is read before the query's snapshot, which may wait on a commit:
            # rows that commit meanwhile are seen slightly "in the future". The slack keeps
            # them (and rows committed together stay one batch); the UPDATE decides by the
            # time read under the lock.
            candidates = self._candidates(session, limit, utcnow() + CANDIDATE_SLACK)
            session.rollback()
            if not candidates:
                return []
            entities = sorted({e for _, k, e in candidates if k in RECORD_KINDS})
            singles = [i for i, k, _ in candidates if k not in RECORD_KINDS]
            self._lock_claims(session)
            # The time is read once the lock is held: rows whose lease ended while this
            # claim waited for it count as free.
            now = utcnow()
            lease_end = now + self.lease
            busy = select(_OUTBOX.c.entity).where(
                one_of(_OUTBOX.c.entity, entities, self.postgresql),
                by_record(_OUTBOX.c.status, QUEUED),
                or_(_OUTBOX.c.next_attempt_at > now, _OUTBOX.c.claimed_until >= now),
            )
            # By record and by id apart: each condition alone finds its rows by an index.
            picks = [
                (cond, also)
                for cond, also, wanted in (
                    (
                        one_of(_OUTBOX.c.entity, entities, self.postgresql),
                        _OUTBOX.c.entity.not_in(busy),
                        entities,
                    ),
                    (
                        one_of(_OUTBOX.c.id, singles, self.postgresql),
                        _OUTBOX.c.next_attempt_at <= now,
                        singles,
                    ),
                )
                if wanted
            ]
            for pick, also in picks:
                session.exec(
                    update(OutboxRow)
                    .where(
                        pick,
                        also,
                        by_record(OutboxRow.status, QUEUED),
                        or_(
                            col(OutboxRow.claimed_until).is_(None),
                            col(OutboxRow.claimed_until) < now,
                        ),
                    )
                    .values(claimed_by=worker_id, claimed_until=lease_end)
                )
            session.commit()
            rows = sorted(
                (
                    row
                    for pick, _ in picks
                    for row in session.exec(
                        select(OutboxRow).where(
                            pick,
                            col(OutboxRow.claimed_by) == worker_id,
                            by_record(OutboxRow.status, QUEUED),
                        )
                    ).all()
                ),
                key=lambda r: r.id or 0,
            )
            settled = self._settled_after(session, rows)
        groups: dict[str, Group] = {}
        for row in rows:
            key = row.entity if row.kind in RECORD_KINDS else f"#{row.id}"
            groups.setdefault(key, Group(row.entity, [], settled.get(row.entity, [])))
            groups[key].rows.append(row)
        return list(groups.values())

    def analyze(self) -> None:
        """Renews PostgreSQL's statistics of the outbox; nothing on other databases.

        A table that has just received thousands of rows (a backfill, a backlog) has none
        until autovacuum comes by, a minute or more later; meanwhile PostgreSQL plans each
        claim for a nearly empty table and scans it whole (a claim of 100 rows from 100,000
        took 95 ms instead of 25). Without the owner's rights PostgreSQL skips the table
        with a warning, and claims keep working as before.
        """
        if not self.postgresql:
            return
        with self.engine.begin() as connection:
            connection.execute(ANALYZE)

    def next_due(self) -> datetime | None:
        """When the next queued row can be claimed (its retry time, or the end of the lease
        another worker holds on it); None when nothing is queued. One query."""
        leased_until = case(
            (
                col(OutboxRow.claimed_until) > col(OutboxRow.next_attempt_at),
                OutboxRow.claimed_until,
            ),
            else_=OutboxRow.next_attempt_at,
        )
        paused = select(DeliveryLock.at).where(col(DeliveryLock.name) == PAUSE).scalar_subquery()
        with Session(self.engine) as session:
            due, pause = session.exec(
                select(func.min(leased_until), paused).where(col(OutboxRow.status) == QUEUED)
            ).one()
        if not isinstance(due, datetime):
            return None
        due = due if due.tzinfo else due.replace(tzinfo=UTC)
        if pause is not None and pause > due.timestamp():
            return datetime.fromtimestamp(pause, UTC)  # HubSpot's daily limit resets then
        return due

    def pause_until(self, until: datetime) -> None:
        """Pauses every worker on this database until ``until`` (HubSpot's daily limit)."""
        with Session(self.engine) as session:
            found = session.get(DeliveryLock, PAUSE) or DeliveryLock(name=PAUSE)
            found.at = max(found.at, until.timestamp())
            session.add(found)
            try:
                session.commit()
            except IntegrityError:  # another worker paused at the same moment
                session.rollback()

    def paused_until(self) -> datetime | None:
        """When a pause for HubSpot's daily limit ends, while one is on; else None."""
        with self.autocommit.connect() as connection:
            until = connection.execute(
                select(DeliveryLock.at).where(col(DeliveryLock.name) == PAUSE)
            ).scalar()
        if until is None or until <= clock.now():
            return None
        return datetime.fromtimestamp(until, UTC)

    def _candidates(self, session: Session, limit: int, now: datetime) -> list[Any]:
        """The oldest due rows, leaving out records another worker holds or that wait for
        a retry: a page of due rows in id order (the queue index stops after ``limit``),
        then one look at the few records they name."""
        found: list[Any] = []
        blocked: set[str] = set()
        after = 0
        for _ in range(CANDIDATE_PAGES):
            page = session.exec(
                select(OutboxRow.id, OutboxRow.kind, OutboxRow.entity)
                .where(
                    col(OutboxRow.status) == QUEUED,
                    col(OutboxRow.id) > after,
                    col(OutboxRow.next_attempt_at) <= now,
                    or_(col(OutboxRow.claimed_until).is_(None), col(OutboxRow.claimed_until) < now),
                )
                .order_by(col(OutboxRow.id))
                .limit(limit)
            ).all()
            if not page:
                break
            after = page[-1][0] or 0
            records = {e for _, k, e in page if k in RECORD_KINDS}
            if records:
                blocked |= set(
                    session.exec(
                        select(OutboxRow.entity)
                        .where(
                            one_of(_OUTBOX.c.entity, sorted(records), self.postgresql),
                            by_record(OutboxRow.status, QUEUED),
                            or_(
                                col(OutboxRow.next_attempt_at) > now,
                                col(OutboxRow.claimed_until) >= now,
                            ),
                        )
                        .distinct()
                    ).all()
                )
            found += [c for c in page if c[1] not in RECORD_KINDS or c[2] not in blocked]
            if len(found) >= limit:
                break
        return found[:limit]

    def _lock_claims(self, session: Session) -> None:
        take = (
            update(DeliveryLock).where(col(DeliveryLock.name) == CLAIM_LOCK).values(at=time.time())
        )
        if session.exec(take).rowcount:
            return
        session.rollback()
        try:
            session.add(DeliveryLock(name=CLAIM_LOCK))
            session.commit()
        except IntegrityError:  # another worker made it first
            session.rollback()
        session.exec(take)

    def _settled_after(
        self, session: Session, rows: Sequence[OutboxRow]
    ) -> dict[str, list[Change]]:
        """Delivered rows newer than a claimed row of the same record (after a replay)."""
        oldest: dict[str, int] = {}
        for row in rows:
            if row.kind in RECORD_KINDS and row.id is not None:
                oldest[row.entity] = min(oldest.get(row.entity, row.id), row.id)
        if not oldest:
            return {}
        found: dict[str, list[Change]] = {}
        for row_id, kind, entity, payload in session.exec(
            select(OutboxRow.id, OutboxRow.kind, OutboxRow.entity, OutboxRow.payload).where(
                one_of(_OUTBOX.c.entity, oldest, self.postgresql),
                by_record(OutboxRow.status, DELIVERED),
                col(OutboxRow.id) > min(oldest.values()),
            )
        ):
            if (
                row_id is not None
                and row_id > oldest[entity]
                and kind in RECORD_KINDS
                and payload != PURGED
            ):
                found.setdefault(entity, []).append(Change.of(row_id, kind, payload, settled=True))
        return found

    def renew(self, worker_id: str, rows: Sequence[OutboxRow]) -> bool:
        """Makes sure the lease on ``rows`` outlasts a HubSpot request about to start;
        False when any of them is no longer ours.

        A request starts only on a lease with at least half its length left, longer than
        any request may take, so a worker whose lease ran out (it stalled, or was presumed
        dead) never writes over the newer values of the worker that took its rows over.
        While the lease is that fresh nobody else can hold the rows and nothing is asked;
        otherwise one statement renews it, and the rows it renewed are the rows still held.
        """
        now = utcnow()
        if all(_leased_until(r) - now > self.lease / 2 for r in rows):
            return True
        ids = [r.id for r in rows]
        until = now + self.lease
        with self.autocommit.connect() as connection:
            renewed = connection.execute(
                update(_OUTBOX)
                .where(
                    one_of(_OUTBOX.c.id, ids, self.postgresql),
                    _OUTBOX.c.claimed_by == worker_id,
                    by_record(_OUTBOX.c.status, QUEUED),
                )
                .values(claimed_until=until)
            ).rowcount
        if int(renewed) != len(set(ids)):
            return False
        for row in rows:
            row.claimed_until = until
        return True

    def _settle(
        self, connection: Connection, rows: Sequence[OutboxRow], worker_id: str, **values: Any
    ) -> int:
        """Ends ``rows``' lease with ``values``, those the worker still holds; how many."""
        result = connection.execute(
            update(_OUTBOX)
            .where(
                one_of(_OUTBOX.c.id, [r.id for r in rows], self.postgresql),
                _OUTBOX.c.claimed_by == worker_id,
                by_record(_OUTBOX.c.status, QUEUED),
            )
            .values(claimed_by=None, claimed_until=None, **values)
        )
        return int(result.rowcount)

    def delivered(
        self,
        rows: Sequence[OutboxRow],
        worker_id: str,
        hubspot_id: str | None = None,
        link: tuple[str, str] | None = None,
    ) -> None:
        """Settles one record's rows as delivered, and links the record, in one transaction."""
        if link is not None:
            self.delivered_many(worker_id, [(rows, hubspot_id, link)])
            return
        # One statement, without a transaction around it, unless a count goes with it.
        begin = self.engine.begin if self.metrics.enabled else self.autocommit.connect
        with begin() as connection:
            settled = self._settle(
                connection,
                rows,
                worker_id,
                status=DELIVERED,
                delivered_at=utcnow(),
                last_error=None,
                hubspot_id=hubspot_id,
            )
            if settled == len(rows):
                self.metrics.settled(connection, rows, COUNT_DELIVERED)
        delivery_log.delivered(rows, worker_id, hubspot_id)

    def delivered_many(
        self,
        worker_id: str,
        done: Sequence[tuple[Sequence[OutboxRow], str | None, tuple[str, str] | None]],
    ) -> None:
        """Settles delivered records, each ``(rows, hubspot id, (link kind, panel id))``, and
        records their links: a few statements per batch, not a few per row."""
        if not done:
            return
        now = utcnow()
        settle = [
            {"row_id": row.id, "hubspot": hubspot_id}
            for rows, hubspot_id, _ in done
            for row in rows
        ]
        links = {link: hid for _, hid, link in done if link is not None and hid is not None}
        for last_try in (False, True):
            with Session(self.engine) as session:
                session.connection().execute(
                    SETTLE_DELIVERED.values(
                        claimed_by=None,
                        claimed_until=None,
                        status=DELIVERED,
                        delivered_at=now,
                        last_error=None,
                    ),
                    [{**values, "worker": worker_id} for values in settle],
                )
                self.metrics.settled(
                    session.connection(), [r for rows, _, _ in done for r in rows], COUNT_DELIVERED
                )
                try:
                    self._save_links(session, links)
                    session.commit()
                except IntegrityError:  # another worker linked one of them meanwhile
                    session.rollback()
                    if last_try:
                        raise
                    continue
                for rows, hubspot_id, _ in done:
                    delivery_log.delivered(rows, worker_id, hubspot_id)
                return

    def _save_links(self, session: Session, links: dict[tuple[str, str], str]) -> None:
        by_kind: dict[str, dict[str, str]] = {}
        for (kind, panel_id), hubspot_id in links.items():
            by_kind.setdefault(kind, {})[panel_id] = hubspot_id
        for kind, wanted in by_kind.items():
            known = dict(
                session.exec(
                    select(ObjectLink.panel_id, ObjectLink.hubspot_id).where(
                        col(ObjectLink.kind) == kind,
                        one_of(LINKS_TABLE.c.panel_id, wanted, self.postgresql),
                    )
                ).all()
            )
            new = [
                {"kind": kind, "panel_id": p, "hubspot_id": h}
                for p, h in wanted.items()
                if p not in known
            ]
            moved = [
                {"link_kind": kind, "link_panel": p, "hubspot_id": h}
                for p, h in wanted.items()
                if p in known and known[p] != h
            ]
            if new:
                session.connection().execute(INSERT_LINK, new)
            if moved:
                session.connection().execute(MOVE_LINK, moved)

    def retry_later(
        self,
        rows: Sequence[OutboxRow],
        worker_id: str,
        error: str,
        delay_s: float,
        max_attempts: int,
        correlation_id: str | None = None,
    ) -> bool:
        """Counts a failed attempt on one record's rows; parks them all once the oldest has
        had ``max_attempts``. Returns True when they were parked. ``correlation_id`` is
        HubSpot's for the failed request, for the log."""
        if max(r.attempts for r in rows) + 1 >= max_attempts:
            self.park(rows, worker_id, error, correlation_id)
            return True
        delivery_log.retrying(rows, worker_id, error, delay_s, correlation_id)
        with self.engine.begin() as connection:
            retried = [
                row
                for row in rows
                if self._settle(
                    connection,
                    [row],
                    worker_id,
                    attempts=row.attempts + 1,
                    last_error=error,
                    next_attempt_at=utcnow() + timedelta(seconds=delay_s),
                )
            ]
            self.metrics.settled(connection, retried, RETRIED)
        return False

    def defer(self, rows: Sequence[OutboxRow], worker_id: str, delay_s: float) -> None:
        """Puts rows back without counting an attempt: they wait for something else."""
        with self.engine.begin() as connection:
            self._settle(
                connection, rows, worker_id, next_attempt_at=utcnow() + timedelta(seconds=delay_s)
            )

    def defer_until(self, rows: Sequence[OutboxRow], worker_id: str, until: datetime) -> None:
        """As :meth:`defer`, until ``until`` (at least a moment from now)."""
        delay = (until - utcnow()).total_seconds()
        self.defer(rows, worker_id, max(MIN_WAIT_S, delay))

    def park(
        self,
        rows: Sequence[OutboxRow],
        worker_id: str,
        error: str,
        correlation_id: str | None = None,
    ) -> None:
        delivery_log.parked(rows, worker_id, error, correlation_id)
        with self.engine.begin() as connection:
            parked = [
                row
                for row in rows
                if self._settle(
                    connection,
                    [row],
                    worker_id,
                    status=DEAD,
                    attempts=row.attempts + 1,
                    last_error=error,
                    next_attempt_at=utcnow(),  # when it was parked
                )
            ]
            self.metrics.settled(connection, parked, PARKED)

    def release(self, worker_id: str) -> int:
        """Gives back what a stopping worker claimed but did not settle."""
        with Session(self.engine) as session:
            result = session.exec(
                update(OutboxRow)
                .where(col(OutboxRow.claimed_by) == worker_id, col(OutboxRow.status) == QUEUED)
                .values(claimed_by=None, claimed_until=None)
            )
            session.commit()
            return int(result.rowcount)
