"""A Django model's table for SQLAlchemy, for hooks the plugin fires inside its own
transaction (``skypanel_on_hubspot_ticket_changed``).

Such a hook writes the panel's row through the ``session`` it is given, so the row and
the plugin's note that the change was handled commit together. A Django ORM write there
would run on Django's connection, in another transaction: on SQLite it waits for the
plugin's own and fails with "database is locked"; on PostgreSQL it commits apart::

    tickets = table_of(SupportTicket)
    session.execute(update(tickets).where(tickets.c.id == pk).values(status="closed"))
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import TableClause, column, table


def table_of(model: Any) -> TableClause:
    """The table of Django ``model``, its columns named as in the database (``owner_id``)."""
    meta = model._meta
    return table(meta.db_table, *(column(field.column) for field in meta.concrete_fields))
