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
    settings = rt.settings()
    props = ticket_properties(ticket, settings)
    wanted = (*TICKET_FIELDS, *settings.ticket_property_map.values())
    return {k: props[k] for k in wanted if k in props}


#: Judges one property of one record: (record kind "user" or "ticket", the panel's id of
#: it, the property, the HubSpot record, the panel's value or None) → what is wrong, or None.
Judge = Callable[[str, str, str, dict[str, Any], str | None], str | None]


def equal_to_the_panel(
    kind: str, key: str, prop: str, record: dict[str, Any], want: str | None
) -> str | None:
    """Every property the panel has a value for holds it (every row ``overwrite``)."""
    have = record["properties"].get(prop)
    if want is None or have == want:
        return None
    return f"{prop} is {have!r}, panel {want!r}"


def differences(
    rt: Runtime,
    fake: FakeHubSpot,
    users: dict[str, User],
    tickets: dict[str, tuple[Ticket, str]],
    judge: Judge = equal_to_the_panel,
) -> list[str]:
    """Where HubSpot differs from the panel: one line per record and property. ``judge``
    says what "equal to the panel" means for each mapped property."""
    settings = rt.settings()
    contact_props = tuple(settings.contact_property_map.values())
    ticket_props = (*TICKET_FIELDS, *settings.ticket_property_map.values())
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
        for prop in dict.fromkeys((*want, *contact_props)):
            problem = judge("user", user.id, prop, matches[0], want.get(prop))
            if problem:
                found.append(f"user {user.id}: {problem}")
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
        want = expected_ticket(rt, ticket)
        for prop in dict.fromkeys((*want, *ticket_props)):
            problem = judge("ticket", ticket.id, prop, matches[0], want.get(prop))
            if problem:
                found.append(f"ticket {ticket.id}: {problem}")
        owner = by_email.get(expected_contact(rt, users[owner_id])["email"], [])
        associated = fake.associations("tickets", matches[0]["id"], "contacts")
        if [c["id"] for c in owner] != associated:
            found.append(f"ticket {ticket.id}: associated with {associated}")
    return found


#: The user fields the panel changes → their contact properties in the default map.
USER_PROPERTIES = {
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "phone": "phone",
}
#: The ticket's extra fields the panel changes → the ticket properties they are mapped to.
TICKET_EXTRA_PROPERTIES = {"server": "panel_server"}


def _value(value: object) -> str | None:
    """A value as HubSpot ends up holding it: empty is no value."""
    return None if value is None or value == "" else str(value)


class Panel:
    """The panel's own users and tickets, firing the plugin's hooks as a host does.

    It remembers, with a running sequence number, every value the panel committed for each
    mapped property and every edit a HubSpot user made, so :meth:`judge` can tell whether
    HubSpot holds what each property's mode promises.
    """

    def __init__(self, pm: Any) -> None:
        self.pm = pm
        self.users: dict[str, User] = {}
        self.tickets: dict[str, tuple[Ticket, str]] = {}
        self.seq = 0
        #: (kind, panel id, property) → [(seq, value)] the panel committed, oldest first.
        self.history: dict[tuple[str, str, str], list[tuple[int, str | None]]] = {}
        #: (kind, panel id, property) → [(seq, value)] HubSpot users wrote, oldest first.
        self.edits: dict[tuple[str, str, str], list[tuple[int, str | None]]] = {}

    def _committed(self, kind: str, key: str, values: dict[str, object]) -> None:
        self.seq += 1
        for prop, value in values.items():
            self.history.setdefault((kind, key, prop), []).append((self.seq, _value(value)))

    def user(self, user_id: str, changes: dict[str, str]) -> None:
        if "email" in changes:
            changes = {**changes, "email": f"u{user_id}-{changes['email']}@example.com"}
        if user_id not in self.users:
            base = User(id=user_id, email=f"u{user_id}@example.com", first_name=f"User{user_id}")
            self.users[user_id] = dataclasses.replace(base, **changes)
            user = self.users[user_id]
            self._committed(
                "user", user_id, {p: getattr(user, f) for f, p in USER_PROPERTIES.items()}
            )
            self.pm.hook.skypanel_on_user_created(user=self.users[user_id], session=None)
            return
        self.users[user_id] = dataclasses.replace(self.users[user_id], **changes)
        self._committed(
            "user", user_id, {p: changes[f] for f, p in USER_PROPERTIES.items() if f in changes}
        )
        self.pm.hook.skypanel_on_user_updated(
            user=self.users[user_id], changed=frozenset(changes), session=None
        )

    def ticket(self, ticket_id: str, owner: str, changes: dict[str, str]) -> None:
        if owner not in self.users:
            self.user(owner, {})
        extra = {f: changes[f] for f in TICKET_EXTRA_PROPERTIES if f in changes}
        own = {k: v for k, v in changes.items() if k not in extra}
        if ticket_id not in self.tickets:
            base = Ticket(id=ticket_id, subject=f"Ticket {ticket_id}", status="open")
            ticket = dataclasses.replace(base, **own, extra=extra)
            self.tickets[ticket_id] = (ticket, owner)
            self._committed(
                "ticket",
                ticket_id,
                {p: extra.get(f) for f, p in TICKET_EXTRA_PROPERTIES.items()},
            )
            self.pm.hook.skypanel_on_ticket_created(
                ticket=ticket, user=self.users[owner], session=None
            )
            return
        before = self.tickets[ticket_id][0]
        ticket = dataclasses.replace(before, **own, extra={**before.extra, **extra})
        self.tickets[ticket_id] = (ticket, owner)
        self._committed(
            "ticket", ticket_id, {TICKET_EXTRA_PROPERTIES[f]: v for f, v in extra.items()}
        )
        self.pm.hook.skypanel_on_ticket_updated(
            ticket=ticket, changed=frozenset(changes), session=None
        )

    def hubspot_user_edits(
        self, rt: Runtime, fake: FakeHubSpot, kind: str, key: str, prop: str, value: str
    ) -> None:
        """A HubSpot user sets ``prop`` of the record the panel's ``key`` is linked to (""
        clears it); nothing when the plugin has not linked one yet."""
        object_kind = "contact" if kind == "user" else "ticket"
        linked = rt.outbox.link(object_kind, key)
        live = fake.contacts() if kind == "user" else fake.tickets()
        if linked is None or linked not in {r["id"] for r in live}:
            return
        if kind == "user":
            fake.change_contact(linked, {prop: value})
        else:
            fake.change_ticket(linked, {prop: value})
        self.seq += 1
        self.edits.setdefault((kind, key, prop), []).append((self.seq, _value(value)))

    def judge_by_modes(self, rt: Runtime, fake: FakeHubSpot) -> Judge:
        """ "Equal to the panel" by each property's mode in the saved maps:

        - overwrite: the panel's last value; when a HubSpot user edited it after the panel's
          last change of it, that edit may stand until the panel changes it again.
        - fill_if_empty: what a HubSpot user last typed, if anything; else a value the panel
          committed (one it committed after the user cleared it, if it did), or nothing.
        - on_create: what a HubSpot user last wrote, if anything; else the value the record
          was created with, which the panel had at some point.
        """
        settings = rt.settings()
        modes = {
            "user": settings.contact_property_map.property_modes(),
            "ticket": settings.ticket_property_map.property_modes(),
        }

        def judge(
            kind: str, key: str, prop: str, record: dict[str, Any], want: str | None
        ) -> str | None:
            have = _value(record["properties"].get(prop))
            mode = modes[kind].get(prop, "overwrite")
            history = self.history.get((kind, key, prop), [])
            edits = self.edits.get((kind, key, prop), [])
            last_edit = edits[-1] if edits else None
            panel_values = {v for _, v in history}
            if mode == "overwrite":
                if last_edit is None or (history and history[-1][0] > last_edit[0]):
                    allowed = {want}
                else:
                    allowed = {want, last_edit[1]}
            elif mode == "fill_if_empty":
                if last_edit is not None and last_edit[1] is not None:
                    allowed = {last_edit[1]}
                else:
                    since = last_edit[0] if last_edit else 0
                    filled_since = any(v is not None for s, v in history if s > since)
                    allowed = panel_values - {None}
                    if not filled_since:
                        allowed.add(None)
            else:
                if last_edit is not None:
                    allowed = {last_edit[1]}
                else:
                    object_type = "contacts" if kind == "user" else "tickets"
                    created = _value(fake.created_properties(object_type, record["id"]).get(prop))
                    if created not in panel_values | ({None} if not history else set()):
                        return f"{prop} was created as {created!r}, never the panel's value"
                    allowed = {created}
            if have in allowed:
                return None
            return (
                f"{prop} ({mode}) is {have!r}, expected one of {sorted(map(repr, allowed))} "
                f"(panel {[v for _, v in history]}, HubSpot users {[v for _, v in edits]})"
            )

        return judge
