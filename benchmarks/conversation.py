"""A ticket's conversation both ways: HubSpot requests per message, and how long a message
takes to reach the other side.

Panel → HubSpot: the panel's customers and staff write N messages over T tickets at a
steady pace, while a worker delivers against a fake HubSpot that enforces HubSpot's default
limit (100 requests per 10 s). Each message's delay runs from the commit of
``skypanel_on_ticket_message_added`` until its email exists in HubSpot (the batch upsert
answered), and until it is on the ticket (the association answered).

HubSpot → panel: agents reply N times over the same tickets at a steady pace; the delay
runs from ``reply_as_agent`` until the panel's ``skypanel_on_hubspot_ticket_message`` fired:
by association webhooks (generic format, delivered in process as HubSpot sends them:
HubSpot's own sending latency is not in the figure), and by polling every 60 s (the
default ``hubspot_ticket_poll_interval``) and every 10 s (the shortest allowed).

Goals: every message on the other side once; panel → HubSpot p95 under 5 s at this pace;
webhooks p95 under 1 s; polling p95 under the interval plus 5 s.

    python benchmarks/conversation.py [--messages 200] [--tickets 20] [--pace 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pluggy
from harness import started_plugin
from sqlalchemy import create_engine

from skypanel_hubspot_plugin import (
    HubSpotTicketMessage,
    Ticket,
    TicketChange,
    TicketMessage,
    User,
    hookimpl,
)
from skypanel_hubspot_plugin.delivery.outbox_table import QUEUED
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot, RecordedRequest
from skypanel_hubspot_plugin.testing.fake_webhooks import FAKE_APP_SECRET
from skypanel_hubspot_plugin.testing.in_process import to_handler

WEBHOOK_URL = "http://testserver/api/hubspot/webhooks"
ON_TICKET = re.compile(r"/emails/(\d+)/associations/(?:[^/]+/)?tickets/")
#: HubSpot's default limit: 100 requests per 10 s.
RATE_LIMIT = 100


class PanelSide:
    """The host: when each agent's reply reached it."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    @hookimpl
    def skypanel_on_hubspot_ticket_message(
        self, message: HubSpotTicketMessage, session: Any
    ) -> None:
        self.arrived.setdefault(message.hubspot_email_id, time.monotonic())

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        """Agents' ticket changes: not measured here."""


@contextmanager
def panel(
    hubspot: FakeHubSpot, **settings: Any
) -> Iterator[tuple[pluggy.PluginManager, Runtime, PanelSide]]:
    """A panel on SQLite with the plugin started and one worker running (delivering, and
    polling HubSpot for replies as the runtime's worker does)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'panel.sqlite3'}")
        side = PanelSide()
        pm, rt = started_plugin(
            engine,
            hubspot.base_url,
            host_plugins=[side],
            hubspot_ticket_enabled=True,
            hubspot_app_secret=FAKE_APP_SECRET,
            hubspot_webhook_url=WEBHOOK_URL,
            **settings,
        )
        worker = Worker(rt, periodic=[rt.conversations])
        worker.start_thread()
        try:
            yield pm, rt, side
        finally:
            worker.stop()
            pm.hook.skypanel_shutdown()
            engine.dispose()


def drained(rt: Runtime, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while rt.outbox.counts().get(QUEUED, 0):
        if time.monotonic() > deadline:
            raise SystemExit("the queue did not drain")
        time.sleep(0.02)


def open_tickets(pm: pluggy.PluginManager, rt: Runtime, count: int) -> list[str]:
    """``count`` users, each with a ticket, delivered; returns the HubSpot ticket ids."""
    for i in range(count):
        user = User(id=str(i), email=f"user{i}@example.com", first_name=f"U{i}")
        pm.hook.skypanel_on_user_created(user=user, session=None)
        ticket = Ticket(id=f"T{i}", subject=f"Server {i} is down")
        pm.hook.skypanel_on_ticket_created(ticket=ticket, user=user, session=None)
    drained(rt)
    linked = [rt.outbox.link("ticket", f"T{i}") for i in range(count)]
    assert all(linked), "a ticket did not reach HubSpot"
    return [str(t) for t in linked]


def paced(count: int, per_s: float) -> Iterator[int]:
    """0 .. count-1, the i-th at i / per_s seconds from the start."""
    start = time.monotonic()
    for i in range(count):
        wait = start + i / per_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield i


def percentiles(delays_s: list[float]) -> str:
    if len(delays_s) < 2:
        return "n/a"
    cuts = statistics.quantiles(delays_s, n=100, method="inclusive")
    return f"p50 {1000 * statistics.median(delays_s):,.0f} ms, p95 {1000 * cuts[94]:,.0f} ms"


def kinds(requests: list[RecordedRequest]) -> str:
    """The requests counted by what they did."""
    counts: dict[str, int] = {}
    for r in requests:
        if "/properties/" in r.path:
            kind = "property checks"
        elif r.path.endswith("/emails/batch/upsert"):
            kind = "email upserts"
        elif r.path.endswith("/batch/read") and "associations" in r.path:
            kind = "association reads"
        elif ON_TICKET.search(r.path) or "/associations/" in r.path:
            kind = "associations"
        elif r.path.endswith("/emails/search"):
            kind = "email searches"
        elif r.method == "GET" and "/emails/" in r.path:
            kind = "email reads"
        else:
            kind = "other"
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def panel_to_hubspot(messages: int, tickets: int, pace: float) -> None:
    with FakeHubSpot(rate_limit=RATE_LIMIT) as hubspot, panel(hubspot) as (pm, rt, _):
        open_tickets(pm, rt, tickets)
        first = len(hubspot.requests)
        committed: dict[str, float] = {}
        for i in paced(messages, pace):
            kind = "customer" if i % 2 == 0 else "staff"
            message = TicketMessage(
                id=f"M{i}",
                ticket_id=f"T{i % tickets}",
                author_kind=kind,
                body=f"Message {i}",
                sent_at=datetime.now(UTC),
                author_name="Customer" if kind == "customer" else "Sam Staff",
                author_email=f"user{i % tickets}@example.com"
                if kind == "customer"
                else "sam@panel.example.com",
            )
            pm.hook.skypanel_on_ticket_message_added(message=message, session=None)
            committed[message.id] = time.monotonic()  # the hook returns after its commit
        drained(rt)
        requests = hubspot.requests[first:]
        emails = {
            e["properties"]["skypanel_message_id"]: e["id"]
            for e in hubspot.emails()
            if e["properties"].get("skypanel_message_id")
        }
    upserted: dict[str, float] = {}
    on_ticket: dict[str, float] = {}
    for r in requests:
        if r.status >= 300:
            continue
        if r.path.endswith("/emails/batch/upsert"):
            for item in r.body.get("inputs", []):
                upserted.setdefault(item["id"], r.at)
        elif (found := ON_TICKET.search(r.path)) is not None:
            on_ticket.setdefault(found.group(1), r.at)
    exists = [upserted[m] - t for m, t in committed.items() if m in upserted]
    placed = [on_ticket[emails[m]] - t for m, t in committed.items() if emails.get(m) in on_ticket]
    throttled = sum(1 for r in requests if r.status == 429)
    print(
        f"panel → HubSpot: {messages} messages over {tickets} tickets, {pace:g} a second; "
        f"{len(emails)} emails in HubSpot"
    )
    print(
        f"  HubSpot requests: {len(requests)} ({throttled} answered 429), "
        f"{len(requests) / messages:.2f} per message: {kinds(requests)}"
    )
    print(f"  commit → email exists: {percentiles(exists)}")
    print(f"  commit → email on its ticket: {percentiles(placed)}")


def hubspot_to_panel(messages: int, tickets: int, pace: float, way: str, interval: int) -> None:
    sync = "webhooks" if way == "webhooks" else "polling"
    with (
        FakeHubSpot(rate_limit=RATE_LIMIT) as hubspot,
        panel(hubspot, hubspot_ticket_sync=sync, hubspot_ticket_poll_interval=str(interval)) as (
            pm,
            rt,
            side,
        ),
    ):
        hubspot_ids = open_tickets(pm, rt, tickets)
        if way == "webhooks":
            send = to_handler()
            hubspot.subscribe_webhooks(
                WEBHOOK_URL,
                FAKE_APP_SECRET,
                format="generic",
                transport=lambda url, body, headers: send(url, body, headers)[0],
            )
        first = len(hubspot.requests)
        sent: dict[str, float] = {}
        for i in paced(messages, pace):
            at = time.monotonic()
            sent[hubspot.reply_as_agent(hubspot_ids[i % tickets], f"Reply {i}")] = at
        deadline = time.monotonic() + interval * 2 + 30
        while len(side.arrived) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.02)
        arrived = dict(side.arrived)
        requests = hubspot.requests[first:]
    delays = [arrived[e] - t for e, t in sent.items() if e in arrived]
    how = "association webhooks" if way == "webhooks" else f"polling every {interval} s"
    print(f"HubSpot → panel by {how}: {len(arrived)}/{len(sent)} replies reached the panel")
    print(
        f"  HubSpot requests: {len(requests)}, {len(requests) / messages:.2f} per reply: "
        f"{kinds(requests) or 'none'}"
    )
    print(f"  reply → panel hook: {percentiles(delays)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=20)
    parser.add_argument("--pace", type=float, default=3.0, help="messages a second")
    parser.add_argument("--only", choices=["out", "webhooks", "polling"], default=None)
    args = parser.parse_args()
    if args.only in (None, "out"):
        panel_to_hubspot(args.messages, args.tickets, args.pace)
    if args.only in (None, "webhooks"):
        hubspot_to_panel(args.messages, args.tickets, args.pace, "webhooks", 60)
    if args.only in (None, "polling"):
        for interval in (60, 10):
            hubspot_to_panel(args.messages, args.tickets, args.pace, "polling", interval)


if __name__ == "__main__":
    main()
