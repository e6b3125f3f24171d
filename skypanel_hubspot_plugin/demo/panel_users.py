"""How the plugin's "sync all contacts" backfill reads the demo panel's customers.

The plugin calls ``list_users(after, limit)`` from its own thread, page by page, so each
call opens its own session and returns plain ``User`` payloads, ordered by id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.payloads import ListUsers, User

from .panel_tables import PanelUser


def users_lister(engine: Engine) -> ListUsers:
    def list_users(after: str | None, limit: int) -> Sequence[User]:
        query = select(PanelUser).order_by(col(PanelUser.id)).limit(limit)
        if after is not None:
            query = query.where(col(PanelUser.id) > int(after))
        with Session(engine) as session:
            return [row.as_user() for row in session.exec(query)]

    return list_users
