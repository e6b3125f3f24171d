"""Shared by the convergence tests: a ticket's conversation both ways, and a way to compare
what each side ends with.

The panel's side writes messages (the customer's and the staff's) through
``skypanel_on_ticket_message_added`` and keeps what agents answer in a table of its own,
written in the transaction the plugin hands it, as a host does. HubSpot's side plays agents
replying and noting on the ticket, and HubSpot's webhook deliveries: each association event
waits in flight until the schedule delivers it (late, twice, or never), and one the panel
fails to take stays in flight, as HubSpot retries it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from convergence import Killed
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    event,
    insert,
    select,
)
from sqlmodel import Session

from skypanel_hubspot_plugin import HubSpotTicketMessage, TicketChange, TicketMessage, hookimpl
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot
from skypanel_hubspot_plugin.testing.fake_webhooks import FAKE_APP_SECRET, Subscription, deliver
from skypanel_hubspot_plugin.testing.in_process import to_handler
from skypanel_hubspot_plugin.webhooks.conversation_poll import LEASE, ConversationPoller
from skypanel_hubspot_plugin.webhooks.conversation_table import BornTicket, HandledReply
from skypanel_hubspot_plugin.webhooks.table import PollCursor

#: Where the fake's webhooks are signed for; they reach the plugin's handler in process.
WEBHOOK_URL = "http://testserver/api/hubspot/webhooks"
#: The generic format's type id of an email, in an association change event.
EMAIL_TYPE_ID = "0-49"
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

#: The panel's own table of agents' replies (not the plugin's: no migration, no model).
PANEL_TABLES = MetaData()
panel_replies = Table(
    "panel_ticket_replies",
    PANEL_TABLES,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(255), nullable=False),
    # Not unique on purpose: a reply handed on twice shows as two rows.
    Column("hubspot_email_id", String(40), nullable=False),
    Column("body", Text, nullable=False),
)


class PanelInbox:
    """The host's reply hook: each agent's reply becomes a row of the panel's own table,
    written in the plugin's transaction (a rollback there takes the row back too)."""

    @hookimpl
    def skypanel_on_hubspot_ticket_message(
        self, message: HubSpotTicketMessage, session: Any
    ) -> None:
        session.exec(
            insert(panel_replies).values(
                ticket_id=message.ticket_id,
                hubspot_email_id=message.hubspot_email_id,
                body=message.text,
            )
        )

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        """Agents' ticket changes are another test's business."""


def received(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """The replies the panel got, per panel ticket, in the order they arrived."""
    with engine.connect() as conn:
        rows = conn.execute(select(panel_replies).order_by(panel_replies.c.id)).all()
    found: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        found.setdefault(row.ticket_id, []).append((row.hubspot_email_id, row.body))
    return found


class Webhooks:
    """HubSpot's association webhooks for agents' replies: sent (queued in flight) when an
    agent replies, delivered to the plugin's handler when the schedule says."""

    def __init__(self, fake: FakeHubSpot) -> None:
        self.fake = fake
        self.in_flight: list[list[dict[str, Any]]] = []
        self.send = to_handler()

    def subscribe(self) -> None:
        self.in_flight.clear()
        self.fake.subscribe_webhooks(
            WEBHOOK_URL, FAKE_APP_SECRET, format="generic", transport=self._queue
        )

    def _queue(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        events = [e for e in json.loads(body) if e.get("toObjectTypeId") == EMAIL_TYPE_ID]
        if events:
            self.in_flight.append(events)
        return 200

    def deliver(self, index: int, outcome: str) -> None:
        """Delivers the ``index``-th webhook in flight (modulo): ``ok`` once, ``twice``
        (HubSpot may send an event again), ``lost`` never. One the plugin does not take
        (an error answer, an exception: HubSpot saw no 2xx) stays in flight."""
        if not self.in_flight:
            return
        events = self.in_flight.pop(index % len(self.in_flight))
        if outcome == "lost":
            return
        for _ in range(2 if outcome == "twice" else 1):
            try:
                taken = self._taken(events)
            except Killed:  # the panel died answering: HubSpot saw no answer
                self.in_flight.append(events)
                raise
            if not taken:
                self.in_flight.append(events)
                return

    def deliver_all(self, rounds: int = 5) -> None:
        """HubSpot retrying what is in flight, with everything healthy."""
        for _ in range(rounds):
            if not self.in_flight:
                return
            self.deliver(0, "ok")
        assert not self.in_flight, "webhooks the plugin keeps refusing"

    def _taken(self, events: list[dict[str, Any]]) -> bool:
        status = 0

        def send(url: str, body: bytes, headers: dict[str, str]) -> int:
            nonlocal status
            status = self.send(url, body, headers)[0]
            return status

        try:  # signed again at each attempt, as HubSpot does
            deliver(
                Subscription(WEBHOOK_URL, FAKE_APP_SECRET, format="generic", transport=send), events
            )
        except Exception:
            return False
        return 200 <= status < 300


#: The tables a conversation's way back writes: where a death there can lose or double a reply.
CONVERSATION_TABLES = ("hubspot_handled_replies", "hubspot_poll_cursor", panel_replies.name)


@contextmanager
def dies_at_conversation_write(engine: Engine, nth: int | None) -> Iterator[None]:
    """Kills the process (a poll, a webhook request) just before its ``nth`` write to a
    conversation table or commit of such writes (counting from 1): that and every later
    one fail, so nothing after it is committed, as after a SIGKILL. ``None``: it lives."""
    if nth is None:
        yield
        return
    seen = 0
    dirty: set[int] = set()  # connections holding uncommitted conversation writes

    def count() -> None:
        nonlocal seen
        seen += 1
        if seen >= nth:
            raise Killed()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.lstrip().split(None, 3)
        if words[0].upper() in ("INSERT", "UPDATE", "DELETE") and any(
            t in statement.split("(", 1)[0].split(" SET ", 1)[0] for t in CONVERSATION_TABLES
        ):
            dirty.add(id(conn))
            count()

    def commit(conn: Any) -> None:
        if id(conn) not in dirty:
            return
        dirty.discard(id(conn))
        try:
            count()
        except Killed:
            # The process is gone with its connection: the database rolls back what the
            # transaction held (and the pool must not take the connection back as committed).
            conn.invalidate()
            raise

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", commit)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", commit)


def poll_now(rt: Runtime, poller: ConversationPoller) -> int:
    """Lets the plugin's clock run to when ``poller`` may poll (its interval since the last
    poll, a dead poller's lease run out), then polls once."""
    settings = rt.settings()
    now = clock.now()
    due = now + (poller.seconds_until_due() or 0.0)
    with Session(rt.outbox.engine) as session:
        lease = session.get(PollCursor, LEASE)
        if lease is not None:
            due = max(due, lease.last_poll_at + poller.interval(settings), lease.lease_until)
    if due > now:
        clock.advance(due - now + 0.001)
    return poller.poll_if_due()


def forget_conversations(engine: Engine) -> None:
    """An empty panel inbox and nothing polled or handed on yet."""
    PANEL_TABLES.create_all(engine)
    with Session(engine) as session:
        for table in (HandledReply, BornTicket, PollCursor):
            session.exec(delete(table))  # type: ignore[call-overload]
        session.exec(delete(panel_replies))  # type: ignore[call-overload]
        session.commit()


@dataclass
class Conversations:
    """What each side said, per panel ticket, in the order it was said."""

    #: panel ticket → [(message id, direction in HubSpot, body)]
    panel: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    #: panel ticket → [(HubSpot email id, text)] of agents' replies
    replies: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: texts of internal notes
    notes: list[str] = field(default_factory=list)
    #: (panel ticket, "reply" or "note") an agent is to write once HubSpot has the ticket
    waiting: list[tuple[str, str]] = field(default_factory=list)
    seq: int = 0

    def message(self, pm: Any, ticket_id: str, owner_email: str, kind: str) -> None:
        """The panel's customer or staff writes on ``ticket_id``."""
        self.seq += 1
        body = f"panel {kind} {self.seq} on {ticket_id}"
        message = TicketMessage(
            id=f"M-{self.seq}",
            ticket_id=ticket_id,
            author_kind=kind,  # type: ignore[arg-type]
            body=body,
            sent_at=START + timedelta(minutes=self.seq),
            author_name="Customer" if kind == "customer" else "Sam Staff",
            author_email=owner_email if kind == "customer" else "sam@panel.example.com",
        )
        pm.hook.skypanel_on_ticket_message_added(message=message, session=None)
        direction = "incoming" if kind == "customer" else "outgoing"
        self.panel.setdefault(ticket_id, []).append((message.id, direction, body))

    def agent(self, ticket_id: str, what: str) -> None:
        """An agent is to reply on (or note on) the HubSpot ticket of ``ticket_id``, as soon
        as there is one (see :meth:`agents_act`)."""
        self.waiting.append((ticket_id, what))

    def agents_act(self, rt: Runtime, fake: FakeHubSpot) -> None:
        """The agents write what they were to write on the tickets HubSpot has now."""
        if not self.waiting:
            return
        live = {t["id"] for t in fake.tickets()}
        still: list[tuple[str, str]] = []
        for ticket_id, what in self.waiting:
            linked = rt.outbox.link("ticket", ticket_id)
            if linked is None or linked not in live:
                still.append((ticket_id, what))
                continue
            self.seq += 1
            if what == "note":
                text = f"internal note {self.seq}"
                fake.add_internal_note(linked, text)
                self.notes.append(text)
            else:
                text = f"agent reply {self.seq}"
                email_id = fake.reply_as_agent(linked, text)
                self.replies.setdefault(ticket_id, []).append((email_id, text))
        self.waiting = still

    def differences(
        self, rt: Runtime, fake: FakeHubSpot, engine: Engine, *, arrival_order: bool
    ) -> list[str]:
        """Where the two sides disagree: each panel message on its HubSpot ticket once, in
        order, with its direction; each agent's reply in the panel once (in the order
        written when ``arrival_order``); no note and no panel message in the panel."""
        found: list[str] = []
        by_message: dict[str, int] = {}
        for email in fake.emails():
            message_id = email["properties"].get("skypanel_message_id")
            if message_id:
                by_message[message_id] = by_message.get(message_id, 0) + 1
        for message_id, count in by_message.items():
            if count != 1:
                found.append(f"panel message {message_id}: {count} emails in HubSpot")
        sent = sum(len(m) for m in self.panel.values())
        if len(by_message) != sent:
            found.append(f"{len(by_message)} panel messages in HubSpot, {sent} written")
        for ticket_id, messages in self.panel.items():
            linked = rt.outbox.link("ticket", ticket_id)
            if linked is None:
                found.append(f"ticket {ticket_id}: no HubSpot ticket")
                continue
            thread = [
                (e["properties"].get("skypanel_message_id"), e["kind"], e["text"])
                for e in fake.thread(linked)
                if e["properties"].get("skypanel_message_id")
            ]
            if thread != messages:
                found.append(f"ticket {ticket_id}: HubSpot shows {thread}, panel wrote {messages}")
        got = received(engine)
        panel_bodies = {b for m in self.panel.values() for _, _, b in m}
        for ticket_id, replies in got.items():
            for _, body in replies:
                if body in self.notes:
                    found.append(f"ticket {ticket_id}: internal note {body!r} reached the panel")
                if body in panel_bodies:
                    found.append(f"ticket {ticket_id}: the panel's own {body!r} came back")
        for ticket_id in sorted(set(got) | set(self.replies)):
            have = got.get(ticket_id, [])
            want = self.replies.get(ticket_id, [])
            if not arrival_order:
                have = sorted(have, key=lambda r: int(r[0]))
            if have != want:
                found.append(f"ticket {ticket_id}: the panel got {have}, agents wrote {want}")
        return found
