"""What the metrics cost each delivery: time and SQL statements, metrics on against off.

Records a backlog of panel events (new users, whose contacts go in batches of 100, and
new tickets, one request or more each), then drains it with an in-process worker against
the fake HubSpot, once with metrics off and once on, on SQLite and (when reachable) on
PostgreSQL. Prints, per delivery, the worker's time and the statements it sent to the
database, and what the metrics added.

    python benchmarks/metrics_cost.py [--users 2000] [--tickets 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import postgres_url, started_plugin
from sqlalchemy import Engine, create_engine, event

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.metrics import Recorder
from skypanel_hubspot_plugin.prometheus import HubSpotCollector
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot


@dataclass
class Run:
    """One drain: how many deliveries, the worker's seconds, the statements it sent."""

    deliveries: int
    seconds: float
    statements: int


def drain(rt: Runtime, engine: Engine) -> tuple[float, int]:
    count = [0]

    def counted(*_: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", counted)
    worker = Worker(rt)
    started = time.perf_counter()
    try:
        while worker.run_once():
            pass
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return time.perf_counter() - started, count[0]


def one_run(url: str, users: int, tickets: int, metrics: bool, tag: str) -> tuple[Run, Run]:
    """Contacts (batched), then tickets (one by one): a Run each."""
    engine = create_engine(url)
    with FakeHubSpot() as fake:
        pm, rt = started_plugin(
            engine, fake.base_url, hubspot_ticket_enabled=True, hubspot_rate_limit="1000"
        )
        try:
            rt.outbox.metrics = Recorder(engine, enabled=metrics)
            rt._service = None  # built again, with or without the request observer
            people = [User(id=f"{tag}-{i}", email=f"{tag}-{i}@example.com") for i in range(users)]
            for user in people:
                pm.hook.skypanel_on_user_created(user=user, session=None)
            seconds, statements = drain(rt, engine)  # contacts first: tickets need them
            for i in range(tickets):
                ticket = Ticket(id=f"{tag}-T{i}", subject="Help", priority="high")
                pm.hook.skypanel_on_ticket_created(ticket=ticket, user=people[i], session=None)
            more_seconds, more_statements = drain(rt, engine)
        finally:
            pm.hook.skypanel_shutdown()
    engine.dispose()
    return Run(users, seconds, statements), Run(tickets, more_seconds, more_statements)


def scrape_ms(url: str, rounds: int) -> float:
    engine = create_engine(url)
    collector = HubSpotCollector(engine)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        list(collector.collect())
        times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return statistics.median(times)


def report(name: str, url_of: Any, users: int, tickets: int, rounds: int) -> None:
    results: dict[tuple[str, bool], list[Run]] = {}
    scrapes: list[float] = []
    for round_ in range(rounds):
        for metrics in (False, True):
            with url_of(f"r{round_}{int(metrics)}") as url:
                contacts, ticket_runs = one_run(url, users, tickets, metrics, f"r{round_}")
                results.setdefault(("contacts", metrics), []).append(contacts)
                results.setdefault(("tickets", metrics), []).append(ticket_runs)
                if metrics:
                    scrapes.append(scrape_ms(url, 5))
    print(f"\n{name}: {users} contacts + {tickets} tickets per run, {rounds} runs each")
    for what in ("contacts", "tickets"):
        rows = {}
        for metrics in (False, True):
            runs = results[(what, metrics)]
            per = statistics.median(r.seconds / r.deliveries * 1e6 for r in runs)
            stmts = statistics.median(r.statements / r.deliveries for r in runs)
            rows[metrics] = (per, stmts)
            print(
                f"  {what:8} metrics {'on ' if metrics else 'off'}: {per:8.1f} µs per "
                f"delivery, {stmts:6.3f} SQL statements per delivery"
            )
        (off_us, off_st), (on_us, on_st) = rows[False], rows[True]
        print(
            f"  {what:8} metrics add: {on_us - off_us:+.1f} µs "
            f"({(on_us / off_us - 1) * 100:+.1f}%), {on_st - off_st:+.3f} statements"
        )
    print(f"  one scrape (collect) of such a database: {statistics.median(scrapes):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:

        @contextmanager
        def sqlite_url(tag: str) -> Iterator[str]:
            yield f"sqlite:///{Path(folder) / tag}.sqlite3"

        report("SQLite", sqlite_url, args.users, args.tickets, args.rounds)
    with postgres_url() as url:
        reachable = url is not None
    if reachable:
        report("PostgreSQL", lambda tag: postgres_url(), args.users, args.tickets, args.rounds)


if __name__ == "__main__":
    main()
