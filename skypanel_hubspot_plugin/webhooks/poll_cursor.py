"""A poll's cursor row and its lease, shared by every poller (tickets, the conversation).

Each poller keeps a ``hubspot_poll_cursor`` row per thing it reads (how far it has read,
in HubSpot's modification times) and takes turns with the pollers of other processes
through a lease on one of them: a compare-and-set that only one process wins per interval.
"""

from __future__ import annotations

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from skypanel_hubspot_plugin.webhooks.table import PollCursor


def cursor_row(engine: Engine, name: str, now: float) -> PollCursor:
    """The cursor row ``name``; made on first use, starting at ``now`` (when polling began)."""
    with Session(engine) as session:
        found = session.get(PollCursor, name)
        if found is not None:
            return found
        session.add(PollCursor(name=name, modified_ms=int(now * 1000)))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # another process made it first: theirs is as good
        found = session.get(PollCursor, name)
        assert found is not None
        return found


def claim_poll(
    engine: Engine, name: str, now: float, interval: float, lease_s: float, owner: str
) -> bool:
    """Takes this interval's poll on row ``name``, unless another poller took it."""
    with Session(engine) as session:
        result = session.exec(
            update(PollCursor)
            .where(
                col(PollCursor.name) == name,
                col(PollCursor.last_poll_at) <= now - interval,
                col(PollCursor.lease_until) <= now,
            )
            .values(last_poll_at=now, lease_until=now + lease_s, lease_owner=owner)
        )
        session.commit()
        return bool(result.rowcount == 1)


def release_poll(engine: Engine, name: str, owner: str) -> None:
    """Gives back the lease on row ``name`` when ``owner`` holds it."""
    with Session(engine) as session:
        session.exec(
            update(PollCursor)
            .where(col(PollCursor.name) == name, col(PollCursor.lease_owner) == owner)
            .values(lease_until=0.0, lease_owner=None)
        )
        session.commit()
