"""A host's users table and its ``users_source`` factory, as ``sync-contacts --users`` loads it."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.payloads import ListUsers

metadata = MetaData()
users = Table(
    "panel_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(300)),
    Column("first_name", String(100)),
)

#: Pages after which list_users raises KeyboardInterrupt, as a Ctrl-C mid-read would.
INTERRUPT_ENV = "PANEL_USERS_INTERRUPT_AFTER_PAGES"


def add_users(engine: Engine, emails: Sequence[str]) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(users), [{"email": e, "first_name": f"User {i}"} for i, e in enumerate(emails)]
        )


def users_source(engine: Engine) -> ListUsers:
    pages = 0
    limit_pages = int(os.environ.get(INTERRUPT_ENV, "0"))

    def list_users(after: str | None, limit: int) -> list[User]:
        nonlocal pages
        if limit_pages and pages >= limit_pages:
            raise KeyboardInterrupt
        pages += 1
        query = select(users).order_by(users.c.id).limit(limit)
        if after is not None:
            query = query.where(users.c.id > int(after))
        with engine.connect() as conn:
            return [
                User(id=str(row.id), email=row.email, first_name=row.first_name)
                for row in conn.execute(query)
            ]

    return list_users
