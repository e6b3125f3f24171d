"""Writing and reading the audit trail.

:func:`record` adds an entry inside the caller's transaction, so the entry commits with
the change it describes, or not at all. :class:`AuditTrail` reads the newest entries a
page at a time and deletes those past the retention (the worker's housekeeping does).

Details hold setting keys and counts only. A secret setting is named, and so recorded
only as changed: its value, old or new, never reaches this table.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.audit.table import MAX_ACTOR, MAX_ADDRESS, AuditEntry, utcnow
from skypanel_hubspot_plugin.payloads import AdminRequest

log = logging.getLogger(__name__)

#: What an entry records.
SETTINGS_CHANGED = "settings_changed"
KEY_ROTATED = "key_rotated"
DELIVERIES_REPLAYED = "deliveries_replayed"
DELIVERIES_PURGED = "deliveries_purged"
BACKFILL_STARTED = "backfill_started"
BACKFILL_FINISHED = "backfill_finished"

#: How the change came: the admin API (through the host's adapter), the command line, or
#: the host's own code (``save_settings``).
ADMIN = "admin"
COMMAND_LINE = "cli"
CODE = "code"

Details = Mapping[str, "int | str | bool | Sequence[str] | None"]


def _shown(text: str | None, limit: int) -> str | None:
    """``text`` fit for one line of a terminal: control characters become ``?``, cut at
    ``limit``. A host's name for its admin should never forge a line of the trail."""
    if text is None or not text.strip():
        return None
    return "".join(c if c.isprintable() else "?" for c in text.strip())[:limit]


@dataclass(frozen=True)
class Actor:
    """Who made a change: ``name`` (the admin the host named, the shell user of a command),
    ``address`` (the client's, as the host's framework saw it) and ``via`` (admin, cli,
    code). Any of the first two may be unknown (None)."""

    name: str | None = None
    address: str | None = None
    via: str = CODE

    @classmethod
    def of(cls, request: AdminRequest) -> Actor:
        """The admin behind an admin API request, as the host's adapter named them."""
        return cls(
            _shown(request.actor, MAX_ACTOR), _shown(request.client_address, MAX_ADDRESS), ADMIN
        )

    @classmethod
    def command_line(cls) -> Actor:
        """The user running a command (their login name, or their uid when it has none)."""
        name: str | None
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # a container's uid with no passwd entry
            name = f"uid {os.getuid()}" if hasattr(os, "getuid") else None
        return cls(_shown(name, MAX_ACTOR), None, COMMAND_LINE)


def record(session: Session, action: str, actor: Actor, details: Details) -> None:
    """Adds one entry to ``session``: it commits, or rolls back, with the caller's change."""
    session.add(
        AuditEntry(
            action=action,
            actor=actor.name,
            address=actor.address,
            via=actor.via,
            details=json.dumps(dict(details), sort_keys=True),
        )
    )


def record_now(engine: Engine, action: str, actor: Actor, details: Details) -> None:
    """Adds one entry in a transaction of its own, for a change that has none (a backfill
    run's end)."""
    with Session(engine) as session:
        record(session, action, actor, details)
        session.commit()


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def entry_json(entry: AuditEntry) -> dict[str, object]:
    """One entry for the admin API and ``audit --json``."""
    try:
        details = json.loads(entry.details)
    except ValueError:
        details = {}
    return {
        "id": entry.id,
        "at": _aware(entry.at).isoformat(),
        "action": entry.action,
        "actor": entry.actor,
        "address": entry.address,
        "via": entry.via,
        "details": details if isinstance(details, dict) else {},
    }


def _detail_words(action: str, details: Mapping[str, object]) -> str:
    if action == SETTINGS_CHANGED:
        changed = details.get("changed")
        keys = changed if isinstance(changed, list) else []
        return ", ".join(f"{key} changed" for key in keys)
    return " ".join(f"{key}={value}" for key, value in sorted(details.items()))


def entry_line(entry: AuditEntry) -> str:
    """One entry as one line of text: when, what, who, from where, and the details."""
    details = entry_json(entry)["details"]
    assert isinstance(details, dict)
    when = _aware(entry.at).isoformat(timespec="seconds")
    where = f" from {entry.address}" if entry.address else ""
    line = (
        f"{when}  #{entry.id}  {entry.action:<19} {entry.actor or 'unknown'} ({entry.via}){where}"
    )
    words = _detail_words(entry.action, details)
    return f"{line}: {words}" if words else line


class AuditTrail:
    """The audit trail on the host's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __repr__(self) -> str:
        return f"AuditTrail(engine={self.engine.url!r})"

    def entries(self, limit: int = 50, before: int | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first; with ``before``, those older than the
        entry of that id (the next page of a listing)."""
        with Session(self.engine) as session:
            query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
            if before is not None:
                query = query.where(col(AuditEntry.id) < before)
            return list(session.exec(query))

    def delete_older_than(self, age: timedelta) -> int:
        """Deletes the entries made more than ``age`` ago; how many."""
        cutoff = utcnow() - age
        with Session(self.engine) as session:
            result = session.exec(delete(AuditEntry).where(col(AuditEntry.at) < cutoff))
            session.commit()
            return int(result.rowcount)
