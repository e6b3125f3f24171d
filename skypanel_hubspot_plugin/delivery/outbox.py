"""The outbox: recording events durably, and claiming, finishing, retrying and parking them.

Claims are leases: a worker that dies (even by SIGKILL) loses its rows when the lease
ends and another worker takes them. On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps two
workers from claiming one row; on SQLite the database-wide write lock does, and the
claim re-checks the lease in its UPDATE, so even two SQLite workers never share a row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, or_, update
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.delivery.outbox_table import (
    DEAD,
    DELIVERED,
    QUEUED,
    ObjectLink,
    OutboxRow,
    utcnow,
)

log = logging.getLogger(__name__)

INSERT_ROW = insert(OutboxRow.metadata.tables["hubspot_outbox"])


class Outbox:
    """The plugin's queue of deliveries on the host's database."""

    def __init__(self, engine: Engine, *, lease_s: float = 60.0) -> None:
        self.engine = engine
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
    ) -> None:
        """Adds one row; inside ``session`` (the host's transaction) when given, else on its own."""
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
        }
        # One cached Core INSERT on the table: no ORM unit of work on the host's request path.
        if session is None:
            with self.engine.begin() as connection:
                connection.execute(INSERT_ROW, values)
        else:  # the host's Session or Connection: its commit or rollback decides
            session.execute(INSERT_ROW, values)

    # -- delivering (the worker side) ----------------------------------------------------------

    def claim(self, worker_id: str, limit: int) -> list[OutboxRow]:
        now = utcnow()
        due = (
            col(OutboxRow.status) == QUEUED,
            col(OutboxRow.next_attempt_at) <= now,
            or_(col(OutboxRow.claimed_until).is_(None), col(OutboxRow.claimed_until) < now),
        )
        with Session(self.engine, expire_on_commit=False) as session:
            ids = list(
                session.exec(
                    select(OutboxRow.id)
                    .where(*due)
                    .order_by(col(OutboxRow.id))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                session.rollback()
                return []
            session.exec(
                update(OutboxRow)
                .where(col(OutboxRow.id).in_(ids), *due)
                .values(claimed_by=worker_id, claimed_until=now + self.lease)
            )
            session.commit()
            return list(
                session.exec(
                    select(OutboxRow)
                    .where(col(OutboxRow.id).in_(ids), col(OutboxRow.claimed_by) == worker_id)
                    .order_by(col(OutboxRow.id))
                )
            )

    def _settle(self, row_id: int | None, worker_id: str, **values: Any) -> bool:
        with Session(self.engine) as session:
            result = session.exec(
                update(OutboxRow)
                .where(
                    col(OutboxRow.id) == row_id,
                    col(OutboxRow.claimed_by) == worker_id,
                    col(OutboxRow.status) == QUEUED,
                )
                .values(claimed_by=None, claimed_until=None, **values)
            )
            session.commit()
            return bool(result.rowcount)

    def delivered(self, row: OutboxRow, worker_id: str, hubspot_id: str | None = None) -> None:
        self._settle(
            row.id,
            worker_id,
            status=DELIVERED,
            delivered_at=utcnow(),
            hubspot_id=hubspot_id,
            last_error=None,
        )

    def delivered_many(
        self, worker_id: str, link_kind: str, done: list[tuple[OutboxRow, str, str]]
    ) -> None:
        """Settles delivered rows, each ``(row, hubspot id, panel id)``, and records their
        links in one transaction: one commit per batch instead of two per row."""
        now = utcnow()
        with Session(self.engine) as session:
            for row, hubspot_id, panel_id in done:
                session.exec(
                    update(OutboxRow)
                    .where(
                        col(OutboxRow.id) == row.id,
                        col(OutboxRow.claimed_by) == worker_id,
                        col(OutboxRow.status) == QUEUED,
                    )
                    .values(
                        claimed_by=None,
                        claimed_until=None,
                        status=DELIVERED,
                        delivered_at=now,
                        hubspot_id=hubspot_id,
                        last_error=None,
                    )
                )
                link = session.get(ObjectLink, (link_kind, panel_id))
                if link is None:
                    link = ObjectLink(kind=link_kind, panel_id=panel_id, hubspot_id=hubspot_id)
                link.hubspot_id = hubspot_id
                session.add(link)
            session.commit()

    def retry_later(self, row: OutboxRow, worker_id: str, error: str, delay_s: float) -> None:
        self._settle(
            row.id,
            worker_id,
            attempts=row.attempts + 1,
            last_error=error,
            next_attempt_at=utcnow() + timedelta(seconds=delay_s),
        )

    def park(self, row: OutboxRow, worker_id: str, error: str) -> None:
        log.warning("HubSpot delivery %s (%s %s) parked: %s", row.id, row.kind, row.entity, error)
        self._settle(row.id, worker_id, status=DEAD, attempts=row.attempts + 1, last_error=error)

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

    # -- links ---------------------------------------------------------------------------------

    def link(self, kind: str, panel_id: str) -> str | None:
        with Session(self.engine) as session:
            found = session.get(ObjectLink, (kind, panel_id))
            return found.hubspot_id if found else None

    def panel_id(self, kind: str, hubspot_id: str) -> str | None:
        """The panel id whose object became HubSpot's ``hubspot_id``, if we created it."""
        with Session(self.engine) as session:
            found = session.exec(
                select(ObjectLink.panel_id).where(
                    col(ObjectLink.kind) == kind, col(ObjectLink.hubspot_id) == hubspot_id
                )
            ).first()
            return found

    def set_link(self, kind: str, panel_id: str, hubspot_id: str) -> None:
        with Session(self.engine) as session:
            found = session.get(ObjectLink, (kind, panel_id))
            if found is None:
                session.add(ObjectLink(kind=kind, panel_id=panel_id, hubspot_id=hubspot_id))
            else:
                found.hubspot_id = hubspot_id
                session.add(found)
            try:
                session.commit()
            except Exception:  # another worker linked it at the same moment: same object
                session.rollback()

    # -- what the admin sees -------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(OutboxRow.status, func.count()).group_by(col(OutboxRow.status))
            )
            return {status: int(n) for status, n in rows}

    def rows(self, status: str | None = None, limit: int = 100) -> list[OutboxRow]:
        with Session(self.engine) as session:
            query = select(OutboxRow).order_by(col(OutboxRow.id).desc()).limit(limit)
            if status:
                query = query.where(col(OutboxRow.status) == status)
            return list(session.exec(query))

    def replay(self, ids: Sequence[int] | None = None) -> int:
        """Puts dead rows (all, or these) back in the queue with a fresh attempt count."""
        with Session(self.engine) as session:
            query = update(OutboxRow).where(col(OutboxRow.status) == DEAD)
            if ids is not None:
                query = query.where(col(OutboxRow.id).in_(list(ids)))
            result = session.exec(
                query.values(
                    status=QUEUED,
                    attempts=0,
                    next_attempt_at=utcnow(),
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            session.commit()
            return int(result.rowcount)
