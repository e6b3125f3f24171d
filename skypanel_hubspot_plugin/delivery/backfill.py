"""Sync every panel user to HubSpot once: the "backfill" an admin runs after connecting.

A backfill reads the panel's users page by page through the host's ``list_users`` and
queues one contact upsert per user in the outbox, tagged with the backfill's id; the
delivery worker sends them 100 per batch request like any other event. Each page's rows
and the backfill's cursor are written in one transaction, and the cursor only moves
forward from the value it was read at, so a run that is interrupted (or two processes
resuming the same run) queue every user exactly once. A backfill is done when its last
row is delivered or parked; until then, starting one resumes it. Progress is read off
the outbox.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, update
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.audit.trail import (
    BACKFILL_FINISHED,
    BACKFILL_STARTED,
    Actor,
    record,
    record_now,
)
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.delivery import wake
from skypanel_hubspot_plugin.delivery.deliverer import CONTACT_UPSERT
from skypanel_hubspot_plugin.delivery.outbox_table import (
    DEAD,
    DELIVERED,
    QUEUED,
    Backfill,
    OutboxRow,
    utcnow,
)
from skypanel_hubspot_plugin.delivery.remap import PANEL_FIELDS, panel_fields
from skypanel_hubspot_plugin.delivery.timings import QUEUEING, READING, Timings
from skypanel_hubspot_plugin.mapping.contact_fields import user_contact_properties
from skypanel_hubspot_plugin.payloads import ListUsers, User
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import settings_from_rows
from skypanel_hubspot_plugin.settings.property_map import DEFAULT_CONTACT_MAP
from skypanel_hubspot_plugin.settings.table import Setting

log = logging.getLogger(__name__)

PAGE_SIZE = 500
QUEUING, DELIVERING, DONE = "queuing", "delivering", "done"

INSERT_ROWS = insert(OutboxRow.metadata.tables["hubspot_outbox"])


class BackfillMoved(Exception):
    """Another process advanced this backfill first; this one stops queuing."""


@dataclass(frozen=True)
class Progress:
    """Where one backfill stands, for the admin page and the command line."""

    id: int
    state: str
    queued: int
    delivered: int
    dead: int
    pending: int
    started_at: datetime
    queued_all_at: datetime | None
    finished_at: datetime | None = None  # when its last row was delivered or parked

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "state": self.state,
            "queued": self.queued,
            "delivered": self.delivered,
            "dead": self.dead,
            "pending": self.pending,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat()
            if self.finished_at and self.state == DONE
            else None,
        }


def stored_contact_map(session: Session) -> Mapping[str, str]:
    """The saved contact property map, read in the transaction of the page it applies to.

    Read here rather than from the runtime, since ``sync-contacts`` queues from its own process.
    """
    row = session.get(Setting, keys.CONTACT_PROPERTY_MAP)
    stored = {keys.CONTACT_PROPERTY_MAP: row.value if row is not None else None}
    return settings_from_rows(stored).contact_property_map


def outbox_row(
    user: User,
    backfill_id: int,
    now: datetime,
    mapping: Mapping[str, str] = DEFAULT_CONTACT_MAP,
) -> dict[str, Any]:
    """The outbox row that upserts ``user``; parked at once when it can never be delivered."""
    values: dict[str, Any] = {
        "kind": CONTACT_UPSERT,
        "entity": f"user:{user.id}",
        "status": QUEUED,
        "attempts": 0,
        "last_error": None,
        "next_attempt_at": now,
        "created_at": now,
        "backfill_id": backfill_id,
    }
    try:
        payload: dict[str, Any] = {
            "user_id": user.id,
            "properties": user_contact_properties(user, mapping),
            PANEL_FIELDS: panel_fields(user),
        }
    except InvalidInput as exc:
        payload = {"rejected": dataclasses.asdict(user)}
        values.update(status=DEAD, last_error=str(exc))
    values["payload"] = json.dumps(payload)
    return values


class Backfills:
    """Starts, resumes and reports contact backfills on the host's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Backfills(engine={self.engine.url!r})"

    def latest(self) -> Backfill | None:
        with Session(self.engine) as session:
            return session.exec(select(Backfill).order_by(col(Backfill.id).desc()).limit(1)).first()

    def start_or_resume(self, actor: Actor | None = None) -> Backfill:
        """The latest backfill while it is not done (reading users or delivering them), else
        a new one: a run cut short at any moment resumes, and queues each user once.

        With ``actor`` (an admin's or an operator's run), the start is recorded in the
        audit trail: in the new backfill's transaction, or on its own for a resumed one."""
        latest = self.latest()
        if latest is not None and self.progress(latest).state != DONE:
            if actor is not None:
                details = {"backfill": latest.id, "resumed": True}
                record_now(self.engine, BACKFILL_STARTED, actor, details)
            return latest
        with Session(self.engine, expire_on_commit=False) as session:
            job = Backfill()
            session.add(job)
            session.flush()  # its id, for the audit entry
            if actor is not None:
                record(session, BACKFILL_STARTED, actor, {"backfill": job.id, "resumed": False})
            session.commit()
            return job

    def record_end(self, job: Backfill, actor: Actor, outcome: str) -> None:
        """Records in the audit trail how a run ``actor`` started ended (``outcome``: done,
        failed, interrupted, queued), with its counts as they stand."""
        progress = self.progress(job)
        details: dict[str, int | str] = {
            "backfill": progress.id,
            "outcome": outcome,
            "queued": progress.queued,
            "delivered": progress.delivered,
            "parked": progress.dead,
            "pending": progress.pending,
        }
        record_now(self.engine, BACKFILL_FINISHED, actor, details)

    def progress(self, job: Backfill) -> Progress:
        with Session(self.engine) as session:
            counts = {
                status: int(n)
                for status, n in session.exec(
                    select(OutboxRow.status, func.count())
                    .where(col(OutboxRow.backfill_id) == job.id)
                    .group_by(col(OutboxRow.status))
                )
            }
            fresh = session.get(Backfill, job.id) or job
            # A parked row's next_attempt_at is when it was parked.
            finished_at = session.exec(
                select(
                    func.max(func.coalesce(OutboxRow.delivered_at, OutboxRow.next_attempt_at))
                ).where(col(OutboxRow.backfill_id) == job.id, col(OutboxRow.status) != QUEUED)
            ).one()
        pending = counts.get(QUEUED, 0)
        state = QUEUING if fresh.queued_all_at is None else DELIVERING if pending else DONE
        assert fresh.id is not None
        return Progress(
            id=fresh.id,
            state=state,
            queued=fresh.queued,
            delivered=counts.get(DELIVERED, 0),
            dead=counts.get(DEAD, 0),
            pending=pending,
            started_at=fresh.started_at,
            queued_all_at=fresh.queued_all_at,
            finished_at=finished_at,
        )

    def last_error(self, job: Backfill) -> str | None:
        """HubSpot's latest error on a row of this backfill still waiting for a retry."""
        with Session(self.engine) as session:
            return session.exec(
                select(OutboxRow.last_error)
                .where(
                    col(OutboxRow.backfill_id) == job.id,
                    col(OutboxRow.status) == QUEUED,
                    col(OutboxRow.last_error).is_not(None),
                )
                .order_by(col(OutboxRow.next_attempt_at).desc())
                .limit(1)
            ).first()

    def queue_all(
        self,
        job: Backfill,
        list_users: ListUsers,
        *,
        page_size: int = PAGE_SIZE,
        stop: threading.Event | None = None,
        on_page: Callable[[int], object] | None = None,
        timings: Timings | None = None,
    ) -> int:
        """Queues every user after the job's cursor; returns how many this call queued.

        Stops early (resumable) when ``stop`` is set; raises :class:`BackfillMoved` when
        another process is queuing the same job.
        """
        assert job.id is not None
        cursor = job.cursor
        total = 0
        timings = timings or Timings()
        while stop is None or not stop.is_set():
            with timings.measure(READING):
                users = list(list_users(cursor, page_size))
            if not users:
                self._finish_queuing(job.id, cursor)
                break
            now = utcnow()
            queueing = time.perf_counter()
            with Session(self.engine) as session:
                moved = session.exec(
                    update(Backfill)
                    .where(
                        col(Backfill.id) == job.id,
                        col(Backfill.queued_all_at).is_(None),
                        col(Backfill.cursor).is_(None)
                        if cursor is None
                        else col(Backfill.cursor) == cursor,
                    )
                    .values(cursor=users[-1].id, queued=col(Backfill.queued) + len(users))
                )
                if moved.rowcount != 1:
                    session.rollback()
                    raise BackfillMoved(f"Backfill {job.id} is being queued by another process")
                mapping = stored_contact_map(session)
                session.execute(INSERT_ROWS, [outbox_row(u, job.id, now, mapping) for u in users])
                wake.recorded(self.engine, session)
                session.commit()
            timings.add(QUEUEING, time.perf_counter() - queueing)
            cursor = users[-1].id
            total += len(users)
            if on_page is not None:
                on_page(len(users))
        return total

    def _finish_queuing(self, job_id: int, cursor: str | None) -> None:
        with Session(self.engine) as session:
            session.exec(
                update(Backfill)
                .where(col(Backfill.id) == job_id, col(Backfill.queued_all_at).is_(None))
                .values(queued_all_at=utcnow())
            )
            session.commit()
        log.info("HubSpot backfill %s: every user queued (last id %s)", job_id, cursor)

    # -- in the panel's process ----------------------------------------------------------------

    def start_in_background(self, list_users: ListUsers, actor: Actor | None = None) -> Backfill:
        """Starts (or resumes) queuing on a thread; the delivery worker sends the rows.

        Raises :class:`BackfillRunning` when this process is already queuing one. With
        ``actor``, the start and the end of queuing (every user queued, or the reason it
        stopped) are recorded in the audit trail; delivery goes on after that.
        """
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise BackfillRunning()
            job = self.start_or_resume(actor)
            self._thread = threading.Thread(
                target=self._queue_logged,
                args=(job, list_users, actor),
                name="hubspot-backfill",
                daemon=True,
            )
            self._thread.start()
            return job

    def _queue_logged(self, job: Backfill, list_users: ListUsers, actor: Actor | None) -> None:
        outcome = "queued"
        try:
            count = self.queue_all(job, list_users)
            log.info("HubSpot backfill %s queued %d users", job.id, count)
        except BackfillMoved as exc:
            outcome = "queued elsewhere"
            log.info("%s", exc)
        except Exception:  # the host's list_users or the database failed; resumable
            outcome = "failed"
            log.exception("HubSpot backfill %s stopped; starting it again resumes it", job.id)
        if actor is not None:
            try:
                self.record_end(job, actor, outcome)
            except Exception:
                log.exception("HubSpot backfill %s: its end could not be audited", job.id)

    def wait(self, timeout: float | None = None) -> None:
        """Waits for this process's queuing thread (tests and shut-down)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class BackfillRunning(Exception):
    def __init__(self) -> None:
        super().__init__("A contact backfill is already reading the panel's users")
