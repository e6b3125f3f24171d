"""Backfill economy: HubSpot requests per contact for a large queue, and the wall time.

Queues N contact upserts, then lets one worker drain them against a fake HubSpot that
enforces HubSpot's default limit (100 requests per 10 s). Prints requests per contact
(goal: at most 0.011, i.e. batches of 100) and how long the queue took.

Then measures the fake itself: the CPU it spends per contact when the plugin's batch
upserts send it 1,000 and then 100,000 contacts (each upsert looks its email up among
those already there). A fake that scanned its contacts would cost a hundred times more per
contact at 100,000; it must cost the same, or benchmarks of the plugin measure the fake.

    python benchmarks/backfill.py [--contacts 10000] [--fake-sizes 1000 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness import started_plugin
from sqlalchemy import create_engine

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot.service import HubSpotService
from skypanel_hubspot_plugin.testing import FAKE_TOKEN, FakeHubSpot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--fake-sizes", type=int, nargs="*", default=[1_000, 100_000])
    args = parser.parse_args()
    if args.contacts:
        economy(args.contacts)
    for size in args.fake_sizes:
        cpu_us, wall_s = fake_cpu_per_contact(size)
        print(
            f"fake HubSpot, {size:>7} contacts: {cpu_us:.1f} µs of its CPU per contact "
            f"({wall_s:.1f} s wall, mostly the client)"
        )


def fake_cpu_per_contact(size: int) -> tuple[float, float]:
    """The fake's CPU per contact upsert, in microseconds, and the wall time of the run."""
    with FakeHubSpot() as hubspot:
        service = HubSpotService(Secret(FAKE_TOKEN), base_url=hubspot.base_url)
        contacts = [{"email": f"user{i}@example.com", "firstname": f"U{i}"} for i in range(size)]
        started = time.perf_counter()
        result = service.upsert_contacts(contacts)
        assert not result.errors and len(result.results) == size
        wall_s = time.perf_counter() - started
        cpu = hubspot.cpu_seconds
    return cpu / size * 1e6, wall_s


def economy(contacts: int) -> None:
    """Requests per contact when one worker drains ``contacts`` queued sign-ups."""
    args = argparse.Namespace(contacts=contacts)
    with tempfile.TemporaryDirectory() as folder, FakeHubSpot(rate_limit=100) as hubspot:
        engine = create_engine(f"sqlite:///{Path(folder) / 'panel.sqlite3'}")
        pm, rt = started_plugin(engine, hubspot.base_url)
        queued_at = time.perf_counter()
        for i in range(args.contacts):
            pm.hook.skypanel_on_user_created(
                user=User(id=str(i), email=f"user{i}@example.com", first_name=f"U{i}"), session=None
            )
        queue_s = time.perf_counter() - queued_at
        worker = Worker(rt)
        started = time.perf_counter()
        worker.start_thread()
        while rt.outbox.counts().get(DELIVERED, 0) < args.contacts:
            time.sleep(0.05)
        drain_s = time.perf_counter() - started
        worker.stop()
        pm.hook.skypanel_shutdown()
        requests = len(hubspot.requests)
        throttled = sum(1 for r in hubspot.requests if r.status == 429)
        engine.dispose()
    print(f"contacts: {args.contacts}   queued in {queue_s:.1f} s (hook calls)")
    print(
        f"HubSpot requests: {requests} ({throttled} answered 429)   "
        f"requests per contact: {requests / args.contacts:.4f}"
    )
    minimum = requests / 10  # HubSpot's default limit: 100 requests per 10 s
    print(
        f"drained in {drain_s:.1f} s by one worker; the limit of 100 requests / 10 s allows "
        f"those requests in {minimum:.1f} s: {drain_s / minimum:.2f}x (goal: at most 1.15x)"
    )


if __name__ == "__main__":
    main()
