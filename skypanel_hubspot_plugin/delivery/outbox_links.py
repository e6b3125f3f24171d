"""The outbox's links: which HubSpot record each panel user and ticket became, kept in the
transaction that settles the delivery that made it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.delivery.outbox_queries import (
    INSERT_LINK,
    LINKS_TABLE,
    MOVE_LINK,
    OUTBOX_TABLE,
    by_record,
    one_of,
)
from skypanel_hubspot_plugin.delivery.outbox_table import QUEUED, ObjectLink, OutboxRow


class OutboxLinks:
    """Panel id to HubSpot id, per kind of record; part of :class:`~.outbox.Outbox`."""

    engine: Engine
    autocommit: Engine
    postgresql: bool
    lease: timedelta

    if TYPE_CHECKING:

        def _lock_claims(self, session: Session) -> None: ...

    def link(self, kind: str, panel_id: str) -> str | None:
        return self.links(kind, [panel_id]).get(panel_id)

    def panel_id(self, kind: str, hubspot_id: str) -> str | None:
        """The panel id whose object became HubSpot's ``hubspot_id``, if we created it."""
        with Session(self.engine) as session:
            found = session.exec(
                select(ObjectLink.panel_id).where(
                    col(ObjectLink.kind) == kind, col(ObjectLink.hubspot_id) == hubspot_id
                )
            ).first()
            return found

    def links(self, kind: str, panel_ids: Sequence[str]) -> dict[str, str]:
        """The HubSpot ids of these panel records that have one, in one query."""
        if not panel_ids:
            return {}
        with self.autocommit.connect() as connection:
            found = connection.execute(
                select(LINKS_TABLE.c.panel_id, LINKS_TABLE.c.hubspot_id).where(
                    LINKS_TABLE.c.kind == kind,
                    one_of(LINKS_TABLE.c.panel_id, panel_ids, self.postgresql),
                )
            )
            return {panel_id: hubspot_id for panel_id, hubspot_id in found}

    def first_row(self, entity: str, kind: str) -> OutboxRow | None:
        """The oldest row of ``kind`` for a record (a ticket's creation), whatever its status."""
        with Session(self.engine) as session:
            return session.exec(
                select(OutboxRow)
                .where(col(OutboxRow.entity) == entity, col(OutboxRow.kind) == kind)
                .order_by(col(OutboxRow.id))
                .limit(1)
            ).first()

    def unlink(self, kind: str, panel_id: str) -> None:
        with Session(self.engine) as session:
            found = session.get(ObjectLink, (kind, panel_id))
            if found is not None:
                session.delete(found)
                session.commit()

    def link_or_pending(
        self, kind: str, panel_id: str, entity: str
    ) -> tuple[str | None, datetime | None]:
        """The record's link as it is now, and when its queued rows are due at the latest
        (None when it has none), read together: a delivery that settles the rows and links
        the record commits both at once, so this never sees neither."""
        link = select(LINKS_TABLE.c.hubspot_id).where(
            LINKS_TABLE.c.kind == kind, LINKS_TABLE.c.panel_id == panel_id
        )
        due = select(func.max(OUTBOX_TABLE.c.next_attempt_at)).where(
            OUTBOX_TABLE.c.entity == entity, by_record(OUTBOX_TABLE.c.status, QUEUED)
        )
        with Session(self.engine) as session:
            found, until = session.exec(select(link.scalar_subquery(), due.scalar_subquery())).one()
        if isinstance(until, datetime) and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        return found, until

    def link_unless_held(
        self, kind: str, panel_id: str, entity: str, hubspot_id: str, worker_id: str
    ) -> str | None:
        """Links the record to ``hubspot_id`` only where nothing else can link it: returns the
        link it has (an existing one is never moved), or None when another worker holds
        queued rows of ``entity`` (it may have read the record unlinked and be writing it).

        Decided under the claim lock, so a claim is either before (its rows are seen here)
        or after (its worker reads the link made here).
        """
        for last_try in (False, True):
            with Session(self.engine) as session:
                self._lock_claims(session)
                found = session.exec(
                    select(ObjectLink.hubspot_id).where(
                        col(ObjectLink.kind) == kind, col(ObjectLink.panel_id) == panel_id
                    )
                ).first()
                if found is not None:
                    session.commit()
                    return found
                held = session.exec(
                    select(OutboxRow.id)
                    .where(
                        col(OutboxRow.entity) == entity,
                        by_record(OutboxRow.status, QUEUED),
                        col(OutboxRow.claimed_by).is_not(None),
                        col(OutboxRow.claimed_by) != worker_id,
                    )
                    .limit(1)
                ).first()
                if held is not None:
                    session.commit()
                    return None
                try:
                    session.connection().execute(
                        INSERT_LINK, {"kind": kind, "panel_id": panel_id, "hubspot_id": hubspot_id}
                    )
                    session.commit()
                    return hubspot_id
                except IntegrityError:  # linked by a delivery that settled meanwhile
                    session.rollback()
                    if last_try:
                        raise
        return None  # not reached: the second try returns or raises

    def set_link(self, kind: str, panel_id: str, hubspot_id: str) -> None:
        """Links a panel record to its HubSpot object: one INSERT, or a move when linked."""
        try:
            with self.autocommit.connect() as connection:
                connection.execute(
                    INSERT_LINK, {"kind": kind, "panel_id": panel_id, "hubspot_id": hubspot_id}
                )
            return
        except IntegrityError:  # linked already (by us before, or another worker just now)
            pass
        with self.autocommit.connect() as connection:
            connection.execute(
                MOVE_LINK, {"link_kind": kind, "link_panel": panel_id, "hubspot_id": hubspot_id}
            )
