"""The outbox as the admin sees and acts on it: counts and rows, replaying parked rows (mapped
again with the map in force), what a queued row waits for, and personal data's erasure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.audit.trail import DELIVERIES_REPLAYED, Actor, record
from skypanel_hubspot_plugin.delivery import wake
from skypanel_hubspot_plugin.delivery.coalesce import RECORD_KINDS, TICKET_CREATE
from skypanel_hubspot_plugin.delivery.erasure import PURGED, Purged, erase_user, purge_expired
from skypanel_hubspot_plugin.delivery.outbox_queries import by_record
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, QUEUED, OutboxRow, utcnow
from skypanel_hubspot_plugin.delivery.remap import REMAPPED_KINDS, remapped


class OutboxAdmin:
    """What the admin sees and does with deliveries; part of :class:`~.outbox.Outbox`."""

    engine: Engine

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

    # -- personal data ---------------------------------------------------------------------------

    def purge(self, older_than: timedelta, actor: Actor | None = None) -> Purged:
        """Erases the personal data of rows delivered or parked more than ``older_than`` ago
        (see :func:`~skypanel_hubspot_plugin.delivery.erasure.purge_expired`); an operator's
        purge (``actor``) is recorded in the audit trail."""
        return purge_expired(self.engine, older_than, actor)

    def erase_user(
        self, user_id: str, emails: Sequence[str] = (), up_to_id: int | None = None
    ) -> int:
        """Erases everything the plugin holds of a user, after HubSpot's GDPR delete of
        their contact (see :func:`~skypanel_hubspot_plugin.delivery.erasure.erase_user`)."""
        return erase_user(self.engine, user_id, emails, up_to_id)

    def replay(
        self,
        ids: Sequence[int] | None = None,
        contact_map: Mapping[str, str] | None = None,
        actor: Actor | None = None,
    ) -> int:
        """Puts dead rows (all, or these) back in the queue with a fresh attempt count.

        Rows of the same records that were waiting for them are woken too. With
        ``contact_map`` (the map in force), parked contact rows are mapped again with it
        first (see :mod:`~skypanel_hubspot_plugin.delivery.remap`), so a fixed map applies.
        With ``actor``, the replay is recorded in the audit trail (how many were asked for
        and queued) in the same transaction.
        """
        with Session(self.engine) as session:
            replayable = (col(OutboxRow.status) == DEAD, col(OutboxRow.payload) != PURGED)
            if contact_map is not None:
                self._remap(session, replayable, ids, contact_map)
            query = update(OutboxRow).where(*replayable)
            dead = select(OutboxRow.entity).where(*replayable)
            if ids is not None:
                query = query.where(col(OutboxRow.id).in_(list(ids)))
                dead = dead.where(col(OutboxRow.id).in_(list(ids)))
            entities = sorted(set(session.exec(dead)))
            now = utcnow()
            result = session.exec(
                query.values(
                    status=QUEUED,
                    attempts=0,
                    next_attempt_at=now,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            for start in range(0, len(entities), 500):
                session.exec(
                    update(OutboxRow)
                    .where(
                        col(OutboxRow.entity).in_(entities[start : start + 500]),
                        by_record(OutboxRow.status, QUEUED),
                        col(OutboxRow.next_attempt_at) > now,
                    )
                    .values(next_attempt_at=now)
                )
            replayed = int(result.rowcount)
            if actor is not None:
                asked: int | str = "all" if ids is None else len(ids)
                record(session, DELIVERIES_REPLAYED, actor, {"asked": asked, "replayed": replayed})
            wake.recorded(self.engine, session)
            session.commit()
            return replayed

    @staticmethod
    def _remap(
        session: Session,
        replayable: tuple[Any, ...],
        ids: Sequence[int] | None,
        contact_map: Mapping[str, str],
    ) -> None:
        query = select(OutboxRow.id, OutboxRow.kind, OutboxRow.payload).where(
            *replayable, col(OutboxRow.kind).in_(REMAPPED_KINDS)
        )
        if ids is not None:
            query = query.where(col(OutboxRow.id).in_(list(ids)))
        for row_id, kind, payload in session.exec(query).all():
            rebuilt = remapped(kind, payload, contact_map)
            if rebuilt is not None and rebuilt != payload:
                session.exec(
                    update(OutboxRow).where(col(OutboxRow.id) == row_id).values(payload=rebuilt)
                )

    def waiting_for(self, rows: Sequence[OutboxRow]) -> dict[int, str]:
        """For queued rows behind an older row of the same record (or, for a new ticket,
        behind its user's queued contact rows): what they wait for. Two queries."""
        queued = [r for r in rows if r.status == QUEUED and r.kind in RECORD_KINDS and r.id]
        if not queued:
            return {}
        owners = {
            r.id: f"user:{json.loads(r.payload).get('user_id')}"
            for r in queued
            if r.kind == TICKET_CREATE
        }
        with Session(self.engine) as session:
            older = session.exec(
                select(OutboxRow.id, OutboxRow.kind, OutboxRow.entity, OutboxRow.status)
                .where(
                    col(OutboxRow.entity).in_({r.entity for r in queued}),
                    func.coalesce(OutboxRow.status, "").in_((QUEUED, DEAD)),
                    col(OutboxRow.id) < max(r.id or 0 for r in queued),
                )
                .order_by(col(OutboxRow.id))
            ).all()
            contacts = session.exec(
                select(OutboxRow.id, OutboxRow.kind, OutboxRow.entity)
                .where(
                    col(OutboxRow.entity).in_(set(owners.values())),
                    by_record(OutboxRow.status, QUEUED),
                )
                .order_by(col(OutboxRow.id))
            ).all()
        first_contact: dict[str, tuple[int | None, str]] = {}
        for i, k, e in contacts:
            first_contact.setdefault(e, (i, k))
        waits: dict[int, str] = {}
        for row in queued:
            assert row.id is not None
            if (contact := first_contact.get(owners.get(row.id, ""))) is not None:
                waits[row.id] = f"waiting for {contact[1]} #{contact[0]}"
            first = next(
                ((i, k, s) for i, k, e, s in older if e == row.entity and (i or 0) < row.id), None
            )
            if first is not None:
                i, k, s = first
                waits[row.id] = f"waiting for {k} #{i}" + (
                    " (parked: replay it)" if s == DEAD else ""
                )
        return waits
