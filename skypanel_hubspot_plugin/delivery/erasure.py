"""Erasing personal data from the plugin's tables: past the retention, and for one user.

Retention (:func:`purge_expired`): a delivered row keeps its row, outcome and HubSpot id
but loses its payload; a parked row, which without its payload could never be replayed,
is deleted once it has been parked that long.

A user's erasure (:func:`erase_user`), after HubSpot's GDPR delete of their contact,
finds what the plugin holds of them by id first, then by every email those rows show:

- their own rows: the contact's (``user:<id>``) and those of each ticket they opened
  (a ticket's creation row keeps its ``user_id`` after its payload is erased, so the
  ticket's later rows are found whatever their age);
- every email address found in those rows (the one they have now and each earlier one);
- rows that name no panel record (form submissions) holding one of those emails, in
  any letter case;
- error texts of other rows quoting one of those emails, which are redacted;
- their links, and whatever the layers above keep about their tickets (see
  :func:`eraser`).

Their rows still waiting or parked are deleted (sent later, a ticket would recreate the
contact in HubSpot); delivered ones keep the row and outcome without the payload. It all
happens in one transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, or_, update
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.audit.trail import DELIVERIES_PURGED, Actor, record
from skypanel_hubspot_plugin.delivery.coalesce import TICKET_CREATE
from skypanel_hubspot_plugin.delivery.outbox_table import (
    DEAD,
    DELIVERED,
    ObjectLink,
    OutboxRow,
    utcnow,
)

#: What a row's payload becomes once its personal data is erased; the row and its outcome stay.
PURGED = json.dumps({"purged": True})
#: What an email quoted in another row's error text is replaced with.
ERASED = "[erased]"
#: Entities of rows that belong to one panel record; other rows (form submissions) are
#: attributed to a user by the email they hold.
RECORD_PREFIXES = ("user:", "ticket:")
#: Values per IN list, well under every database's parameter limit.
CHUNK = 500


@dataclass(frozen=True)
class Purged:
    """What one retention pass did: payloads erased, and parked rows deleted."""

    erased: int
    deleted: int


@dataclass
class Erasure:
    """One user's erasure, as the erasers of other tables see it."""

    user_id: str
    #: The panel ids of the tickets they opened.
    tickets: set[str] = field(default_factory=set)
    #: The HubSpot ids those tickets had.
    hubspot_tickets: set[str] = field(default_factory=set)


Eraser = Callable[[Session, Erasure], object]
_ERASERS: list[Eraser] = []


def eraser(erase: Eraser) -> Eraser:
    """Registers what a table of a higher layer erases of a user, in the same transaction.

    The module that declares a table holding anything of a user's registers its eraser
    next to it, so the table and its erasure come and go together.
    """
    _ERASERS.append(erase)
    return erase


def purge_expired(engine: Engine, older_than: timedelta, actor: Actor | None = None) -> Purged:
    """Erases the payloads of rows delivered more than ``older_than`` ago, and deletes the
    rows parked more than ``older_than`` ago (a parked row's ``next_attempt_at`` is when it
    was parked). With ``actor`` (an operator's purge, not the worker's housekeeping), the
    purge and its counts are recorded in the audit trail in the same transaction."""
    cutoff = utcnow() - older_than
    with Session(engine) as session:
        erased = session.exec(
            update(OutboxRow)
            .where(
                col(OutboxRow.status) == DELIVERED,
                col(OutboxRow.delivered_at) <= cutoff,
                or_(col(OutboxRow.payload) != PURGED, col(OutboxRow.last_error).is_not(None)),
            )
            .values(payload=PURGED, last_error=None)
        )
        deleted = session.exec(
            delete(OutboxRow).where(
                col(OutboxRow.status) == DEAD, col(OutboxRow.next_attempt_at) <= cutoff
            )
        )
        purged = Purged(int(erased.rowcount), int(deleted.rowcount))
        if actor is not None:
            details = {
                "olderThanDays": older_than.days,
                "erased": purged.erased,
                "deleted": purged.deleted,
            }
            record(session, DELIVERIES_PURGED, actor, details)
        session.commit()
        return purged


def erase_user(
    engine: Engine, user_id: str, emails: Iterable[str] = (), up_to_id: int | None = None
) -> int:
    """Erases everything the plugin holds of user ``user_id`` (see the module docstring);
    ``emails`` are addresses known besides those their rows show. Rows recorded after
    ``up_to_id`` (a new life of the same id) are left alone. Returns the rows erased."""
    bound = [] if up_to_id is None else [col(OutboxRow.id) <= up_to_id]
    with Session(engine) as session:
        erasure = Erasure(user_id, tickets=_tickets_of(session, user_id, bound))
        own = [f"user:{user_id}", *(f"ticket:{t}" for t in erasure.tickets)]
        rows = [
            row
            for part in _chunks(own)
            for row in session.exec(
                select(OutboxRow).where(col(OutboxRow.entity).in_(part), *bound)
            )
        ]
        known = {e for e in emails if e}
        for row in rows:
            known |= set(_emails_in(row.payload))
        needles = sorted({_fold(e) for e in known})
        quoted = _quoting(session, known, own, bound)
        for row in quoted:
            names_record = row.entity.startswith(RECORD_PREFIXES)
            if not names_record and _holds(_strings(row.payload), needles):
                rows.append(row)
            elif row.last_error and _holds([row.last_error], needles):
                redacted = _redacted(row.last_error, known)
                # A form of the address the pattern missed (ß for ss): the whole text goes.
                row.last_error = ERASED if _holds([redacted], needles) else redacted
                session.add(row)
        erasure.hubspot_tickets = {
            r.hubspot_id for r in rows if r.hubspot_id and r.entity.startswith("ticket:")
        }
        for row in rows:
            if row.status == DELIVERED:
                row.payload, row.last_error = PURGED, None
                session.add(row)
            else:  # waiting or parked: never to be sent for an erased user
                session.delete(row)
        _forget_links(session, erasure)
        for erase in _ERASERS:
            erase(session, erasure)
        session.commit()
        return len(rows)


def _tickets_of(session: Session, user_id: str, bound: list[Any]) -> set[str]:
    """The panel ids of the tickets ``user_id`` opened, from their creation rows."""
    # Rows recorded before creation rows carried user_id name it only in their payload.
    mark = json.dumps({"user_id": user_id})[1:-1]
    found = session.exec(
        select(OutboxRow.entity, OutboxRow.user_id, OutboxRow.payload).where(
            col(OutboxRow.kind) == TICKET_CREATE,
            or_(
                col(OutboxRow.user_id) == user_id,
                and_(
                    col(OutboxRow.user_id).is_(None),
                    col(OutboxRow.payload).contains(mark, autoescape=True),
                ),
            ),
            *bound,
        )
    )
    return {
        entity.removeprefix("ticket:")
        for entity, owner, payload in found
        if owner == user_id or _loads(payload).get("user_id") == user_id
    }


def _quoting(
    session: Session, emails: set[str], own: list[str], bound: list[Any]
) -> list[OutboxRow]:
    """Rows outside the user's own records whose payload or error may quote an email.

    The database narrows by a piece of each address that JSON stores as written (its
    plain ASCII), compared in lower case; the caller decides on the decoded text.
    """
    pieces = sorted({_ascii_piece(e) for e in emails})
    if not pieces:
        return []
    where = [col(OutboxRow.entity).not_in(own), *bound]
    if "" not in pieces:  # an address with no such piece: every row is a candidate
        payload, error = func.lower(col(OutboxRow.payload)), func.lower(col(OutboxRow.last_error))
        where.append(
            or_(*(c.contains(p, autoescape=True) for p in pieces for c in (payload, error)))
        )
    return list(session.exec(select(OutboxRow).where(*where)))


def _forget_links(session: Session, erasure: Erasure) -> None:
    tickets = sorted(erasure.tickets)
    for part in _chunks(tickets):
        erasure.hubspot_tickets |= set(
            session.exec(
                select(ObjectLink.hubspot_id).where(
                    col(ObjectLink.kind) == "ticket", col(ObjectLink.panel_id).in_(part)
                )
            )
        )
        session.exec(
            delete(ObjectLink).where(
                col(ObjectLink.kind) == "ticket", col(ObjectLink.panel_id).in_(part)
            )
        )
    session.exec(
        delete(ObjectLink).where(
            col(ObjectLink.kind) == "contact", col(ObjectLink.panel_id) == erasure.user_id
        )
    )


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _loads(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _walk(value: object, key: str = "") -> Iterator[tuple[str, str]]:
    """Every text in a decoded payload, with the key it sits under."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)


def _emails_in(payload: str) -> Iterator[str]:
    """The email addresses a user's own row holds (under ``email`` wherever it sits)."""
    for key, text in _walk(_loads(payload)):
        if key == "email" and text.strip():
            yield text.strip()


def _strings(payload: str) -> list[str]:
    try:
        return [text for _, text in _walk(json.loads(payload))]
    except ValueError:
        return [payload]


def _fold(text: str) -> str:
    """``text`` in the form two spellings of one address share, whatever their case.

    Upper-casing first joins the letters casefold alone keeps apart: the dotless i
    (U+0131) upper-cases to ``I``, so an address typed with it and the same address in
    capitals (as a form may send it) fold alike."""
    return text.upper().casefold()


def _holds(texts: Iterable[str], needles: list[str]) -> bool:
    folded = [_fold(t) for t in texts]
    return any(n in t for n in needles for t in folded)


def _redacted(text: str, emails: Iterable[str]) -> str:
    for email in sorted(emails, key=len, reverse=True):
        text = re.sub(re.escape(email), ERASED, text, flags=re.IGNORECASE)
    return text


def _ascii_piece(email: str) -> str:
    """The longest run of ``email`` that JSON stores as written in every spelling of the
    address, in lower case; "" when there is none.

    ASCII letters that another spelling may write as a non-ASCII one (``i`` for the dotted
    and dotless i, ``k`` for the Kelvin sign, ``s`` for the long s) end a run too."""
    text = email.lower().replace('"', "\x00").replace("\\", "\x00")
    runs = re.split(r"[^\x20-\x7e]|[iks]", text)
    return max(runs, key=len, default="")
