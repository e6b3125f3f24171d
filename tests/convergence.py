"""Shared by the convergence tests: a panel whose users and tickets change, and a way to
compare HubSpot with it.

Time is moved forward by writing the outbox, as the clock would: a retry falls due, a
dead worker's lease runs out. Nothing here touches how rows are claimed or delivered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, update
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.outbox import Group
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, QUEUED, OutboxRow, utcnow
from skypanel_hubspot_plugin.mapping.contact_fields import user_contact_properties
from skypanel_hubspot_plugin.mapping.ticket_fields import ticket_properties
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

#: Ticket properties a panel change can move; each must end as the panel has it.
TICKET_FIELDS = ("subject", "hs_pipeline_stage", "hs_ticket_priority")


def enable(rt: Runtime) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            "hubspot_rate_limit": "1000",
        }
    )


def time_passes(engine: Engine, *held: Group) -> None:
    """Every waiting retry falls due and every lease runs out, as after a long pause,
    in the database and for the worker holding ``held`` (a claim it has not settled)."""
    past = utcnow() - timedelta(seconds=1)
    for group in held:
        for row in group.rows:
            row.claimed_until = past
    with Session(engine) as session:
        session.exec(
            update(OutboxRow)
            .where(col(OutboxRow.status) == QUEUED)
            .values(next_attempt_at=past, claimed_until=past)
        )
        session.commit()


def outbox(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).order_by(col(OutboxRow.id))))


def pending(engine: Engine) -> list[OutboxRow]:
    return [r for r in outbox(engine) if r.status == QUEUED]


def parked(engine: Engine) -> list[OutboxRow]:
    return [r for r in outbox(engine) if r.status == DEAD]


class Killed(BaseException):
    """The worker process died here: nothing after this point runs, nothing is committed."""


@contextmanager
def dies_at_write(engine: Engine, nth: int) -> Iterator[None]:
    """Kills the worker just before its ``nth`` write to the outbox (counting from 1)."""
    seen = 0

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal seen
        if statement.lstrip().upper().startswith("UPDATE HUBSPOT_OUTBOX"):
            seen += 1
            if seen == nth:
                raise Killed()

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)


class FirstRequestHook:
    """A worker's rate limit that, before the worker's first delivery request, runs ``then``.

    Delivery asks the rate limit for a slot before each HubSpot request, once it has read
    what it needs from the database: ``then`` (another worker delivering) lands exactly
    between that reading and the request, as it can with two worker processes.
    """

    def __init__(self, limiter: Any, then: Callable[[], object]) -> None:
        self.limiter = limiter
        self.then: Callable[[], object] | None = then

    def acquire(self, stop: Any) -> Any:
        if self.then is not None:
            then, self.then = self.then, None
            then()
        return self.limiter.acquire(stop)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.limiter, name)


@contextmanager
def before_first_request(worker: Any, then: Callable[[], object]) -> Iterator[None]:
    """While inside: ``worker``'s first delivery request waits for ``then`` to run first."""
    real = worker.limiter
    worker.limiter = FirstRequestHook(real, then)
    try:
        yield
    finally:
        worker.limiter = real


def expected_contact(rt: Runtime, user: User) -> dict[str, str]:
    return user_contact_properties(user, rt.settings().contact_property_map)


def expected_ticket(rt: Runtime, ticket: Ticket) -> dict[str, str]:
    props = ticket_properties(ticket, rt.settings())
    return {k: props[k] for k in TICKET_FIELDS if k in props}


def differences(
    rt: Runtime, fake: FakeHubSpot, users: dict[str, User], tickets: dict[str, tuple[Ticket, str]]
) -> list[str]:
    """Where HubSpot differs from the panel: one line per record and property."""
    found: list[str] = []
    contacts = fake.contacts()
    by_email: dict[str, list[dict[str, Any]]] = {}
    for contact in contacts:
        by_email.setdefault(contact["properties"].get("email", ""), []).append(contact)
    if len(contacts) != len(users):
        found.append(f"{len(contacts)} contacts for {len(users)} users")
    for user in users.values():
        want = expected_contact(rt, user)
        matches = by_email.get(want["email"], [])
        if len(matches) != 1:
            found.append(f"user {user.id}: {len(matches)} contacts with {want['email']}")
            continue
        have = matches[0]["properties"]
        for key, value in want.items():
            if have.get(key) != value:
                found.append(f"user {user.id}: {key} is {have.get(key)!r}, panel {value!r}")
    hubspot_tickets = fake.tickets()
    by_panel_id: dict[str, list[dict[str, Any]]] = {}
    for ticket in hubspot_tickets:
        by_panel_id.setdefault(ticket["properties"].get("skypanel_ticket_id", ""), []).append(
            ticket
        )
    for ticket, owner_id in tickets.values():
        matches = by_panel_id.get(ticket.id, [])
        if len(matches) != 1:
            found.append(f"ticket {ticket.id}: {len(matches)} tickets in HubSpot")
            continue
        have = matches[0]["properties"]
        for key, value in expected_ticket(rt, ticket).items():
            if have.get(key) != value:
                found.append(f"ticket {ticket.id}: {key} is {have.get(key)!r}, panel {value!r}")
        owner = by_email.get(expected_contact(rt, users[owner_id])["email"], [])
        associated = fake.associations("tickets", matches[0]["id"], "contacts")
        if [c["id"] for c in owner] != associated:
            found.append(f"ticket {ticket.id}: associated with {associated}")
    return found


class Panel:
    """The panel's own users and tickets, firing the plugin's hooks as a host does."""

    def __init__(self, pm: Any) -> None:
        self.pm = pm
        self.users: dict[str, User] = {}
        self.tickets: dict[str, tuple[Ticket, str]] = {}

    def user(self, user_id: str, changes: dict[str, str]) -> None:
        if "email" in changes:
            changes = {**changes, "email": f"u{user_id}-{changes['email']}@example.com"}
        if user_id not in self.users:
            base = User(id=user_id, email=f"u{user_id}@example.com", first_name=f"User{user_id}")
            self.users[user_id] = dataclasses.replace(base, **changes)
            self.pm.hook.skypanel_on_user_created(user=self.users[user_id], session=None)
            return
        self.users[user_id] = dataclasses.replace(self.users[user_id], **changes)
        self.pm.hook.skypanel_on_user_updated(
            user=self.users[user_id], changed=frozenset(changes), session=None
        )

    def ticket(self, ticket_id: str, owner: str, changes: dict[str, str]) -> None:
        if owner not in self.users:
            self.user(owner, {})
        if ticket_id not in self.tickets:
            base = Ticket(id=ticket_id, subject=f"Ticket {ticket_id}", status="open")
            ticket = dataclasses.replace(base, **changes)
            self.tickets[ticket_id] = (ticket, owner)
            self.pm.hook.skypanel_on_ticket_created(
                ticket=ticket, user=self.users[owner], session=None
            )
            return
        ticket = dataclasses.replace(self.tickets[ticket_id][0], **changes)
        self.tickets[ticket_id] = (ticket, owner)
        self.pm.hook.skypanel_on_ticket_updated(
            ticket=ticket, changed=frozenset(changes), session=None
        )
