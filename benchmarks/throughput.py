"""Three worker processes on PostgreSQL draining a backlog: the HubSpot rate they reach.

Records a backlog of panel events (users created and changed, tickets created and
changed), then starts three ``python -m skypanel_hubspot_plugin.worker`` processes on
one PostgreSQL database against a fake HubSpot enforcing a limit of --limit requests per
10 s (the plugin's shared budget set to the same). Prints the requests per second they
reached against the limit's rate (goal: at least 90%) and the requests HubSpot refused
with 429 (goal: 0).

    python benchmarks/throughput.py [--events 30000] [--limit 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import postgres_url, started_plugin
from sqlalchemy import create_engine

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.outbox_table import QUEUED
from skypanel_hubspot_plugin.settings.secrets import generate_key
from skypanel_hubspot_plugin.testing import FakeHubSpot
from skypanel_hubspot_plugin.testing.fake_hubspot import RecordedRequest

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WINDOW_S = 10.0


def record_backlog(pm: object, events: int) -> None:
    """Events in the proportions of a busy panel: 4 in 10 sign-ups, 4 user changes, 1 new
    ticket and 1 ticket change."""
    hook = pm.hook  # type: ignore[attr-defined]
    users = events * 4 // 10
    for i in range(users):
        hook.skypanel_on_user_created(
            user=User(id=str(i), email=f"user{i}@example.com", first_name=f"U{i}"), session=None
        )
    for i in range(events * 4 // 10):
        user = User(id=str(i % users), email=f"user{i % users}@example.com", last_name=f"L{i}")
        hook.skypanel_on_user_updated(user=user, changed=frozenset({"last_name"}), session=None)
    for i in range(events // 10):
        owner = User(id=str(i % users), email=f"user{i % users}@example.com")
        ticket = Ticket(id=f"T-{i}", subject=f"Ticket {i}", priority="high", status="open")
        hook.skypanel_on_ticket_created(ticket=ticket, user=owner, session=None)
    for i in range(events // 10):
        ticket = Ticket(id=f"T-{i}", subject=f"Ticket {i}", status="closed")
        hook.skypanel_on_ticket_updated(ticket=ticket, changed=frozenset({"status"}), session=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--limit", type=int, default=1000, help="requests per 10 s")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    with postgres_url() as url:
        if url is not None:
            run(url, args)


def run(url: str, args: argparse.Namespace) -> None:
    key = generate_key()
    engine = create_engine(url)
    try:
        with tempfile.TemporaryDirectory() as folder, FakeHubSpot(rate_limit=args.limit) as hubspot:
            pm, rt = started_plugin(
                engine,
                hubspot.base_url,
                key=key,
                hubspot_ticket_enabled=True,
                hubspot_rate_limit=str(args.limit),
            )
            record_backlog(pm, args.events)
            queued = rt.outbox.counts().get(QUEUED, 0)
            env = {**os.environ, "SKYPANEL_HUBSPOT_SECRET_KEYS": key}
            command = [sys.executable, "-m", "skypanel_hubspot_plugin.worker"]
            command += ["--database-url", url, "--base-url", hubspot.base_url]
            started = time.perf_counter()
            workers = [
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=(Path(folder) / f"w{i}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
                for i in range(args.workers)
            ]
            try:
                while rt.outbox.counts().get(QUEUED, 0):
                    time.sleep(0.2)
                wall = time.perf_counter() - started
            finally:
                for worker in workers:
                    worker.terminate()
                    worker.wait(30)
            requests = [r for r in hubspot.requests if r.status != 429]
            throttled = len(hubspot.requests) - len(requests)
            pm.hook.skypanel_shutdown()
    finally:
        engine.dispose()
    allowed = args.limit / WINDOW_S
    reached = len(requests) / wall
    print(
        f"{args.events} panel events ({queued} outbox rows), {args.workers} workers on "
        f"PostgreSQL, limit {args.limit} requests / {WINDOW_S:g} s"
    )
    print(f"HubSpot requests: {len(requests)} in {wall:.1f} s; answered 429: {throttled} (goal: 0)")
    print(
        f"rate reached: {reached:.1f} requests/s of {allowed:.1f} allowed = "
        f"{100 * reached / allowed:.0f}% (goal: at least 90%)"
    )
    print("  by kind of request: " + phases(requests))


def phases(requests: list[RecordedRequest]) -> str:
    """Requests per second while each kind of request was being sent (first to last)."""
    kinds: dict[str, list[float]] = {}
    for r in requests:
        kind = next((k for k in ("associations", "contacts", "tickets") if k in r.path), "other")
        kinds.setdefault(kind, []).append(r.at)
    return ", ".join(
        f"{kind} {len(times)} in {max(times) - min(times):.1f} s "
        f"({len(times) / max(1e-9, max(times) - min(times)):.0f}/s)"
        for kind, times in kinds.items()
    )


if __name__ == "__main__":
    main()
