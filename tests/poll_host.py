"""A host's implementation of ``skypanel_on_hubspot_ticket_changed`` that writes each change
to a table of its own in the session the plugin hands it, as a panel would: loaded in
worker processes with ``--plugin poll_host:recorder``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, insert, select

from skypanel_hubspot_plugin import TicketChange, hookimpl

metadata = MetaData()
changes_table = Table(
    "panel_ticket_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(255), nullable=False),
    Column("hubspot_id", String(40), nullable=False),
    Column("modified_ms", BigInteger, nullable=False),
    Column("stage", String(64)),
    Column("status", String(32)),
)


class Recorder:
    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        session.execute(
            insert(changes_table).values(
                ticket_id=change.ticket_id,
                hubspot_id=change.hubspot_ticket_id,
                modified_ms=change.occurred_at_ms,
                stage=change.changes.get("hs_pipeline_stage"),
                status=change.status,
            )
        )


recorder = Recorder()


def recorded(engine: Engine) -> list[tuple[str, str, int, str | None, str | None]]:
    """Every change the host recorded, in the order it committed them."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                changes_table.c.ticket_id,
                changes_table.c.hubspot_id,
                changes_table.c.modified_ms,
                changes_table.c.stage,
                changes_table.c.status,
            ).order_by(changes_table.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]
