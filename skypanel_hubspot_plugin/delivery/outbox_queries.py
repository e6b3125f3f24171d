"""Query pieces the outbox's parts share: record-first status tests, ``IN`` lists that plan
once, and the statements that write panel-id to HubSpot-id links."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, func, insert, literal, update

from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink, OutboxRow


def by_record(status: Any, value: str) -> Any:
    """``status == value``, written so the database finds the rows by record or id, not by status.

    Where a query also names the records (``entity``) or the rows (``id``), that index is
    the selective one; a bare status test would let SQLite (which keeps no statistics), or
    PostgreSQL before its statistics exist, walk every queued row through the status index
    instead.
    """
    return func.coalesce(status, "") == value


def one_of(column: Any, values: Iterable[Any], postgresql: bool) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter, so the
    statement is compiled, parsed and planned once, whatever the number of values."""
    values = list(values)
    if postgresql:
        return column == any_(literal(values, ARRAY(column.type)))
    return column.in_(values)


#: The tables as SQLAlchemy Core sees them, for statements without the ORM.
OUTBOX_TABLE = OutboxRow.metadata.tables["hubspot_outbox"]
LINKS_TABLE = ObjectLink.metadata.tables["hubspot_object_links"]
INSERT_LINK = insert(LINKS_TABLE)
MOVE_LINK = (
    update(LINKS_TABLE)
    .where(
        LINKS_TABLE.c.kind == bindparam("link_kind"),
        LINKS_TABLE.c.panel_id == bindparam("link_panel"),
    )
    .values(hubspot_id=bindparam("hubspot_id"))
)
