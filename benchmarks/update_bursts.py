"""Bursts of updates: HubSpot requests per record, and how many records end equal to the panel.

Records N users, each followed at once by 5 updates (a burst per user), while a worker
delivers against a fake HubSpot that enforces HubSpot's default limit (100 requests per
10 s). When the queue is empty, compares every contact in HubSpot with the panel's user.

Goals: 100% of records equal to the panel; at most 0.2 HubSpot requests per record.

    python benchmarks/update_bursts.py [--users 1000] [--updates 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
import time
from pathlib import Path

from harness import started_plugin
from sqlalchemy import create_engine

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.delivery.outbox_table import QUEUED
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.mapping.contact_fields import user_contact_properties
from skypanel_hubspot_plugin.testing import FakeHubSpot

FIELDS = ("first_name", "last_name", "company", "phone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as folder, FakeHubSpot(rate_limit=100) as hubspot:
        engine = create_engine(f"sqlite:///{Path(folder) / 'panel.sqlite3'}")
        pm, rt = started_plugin(engine, hubspot.base_url)
        worker = Worker(rt)
        worker.start_thread()
        started = time.perf_counter()
        panel: dict[str, User] = {}
        for i in range(args.users):
            user = User(id=str(i), email=f"user{i}@example.com", first_name=f"U{i}")
            pm.hook.skypanel_on_user_created(user=user, session=None)
            for _ in range(args.updates):
                field = rng.choice(FIELDS)
                value = (
                    f"+1 555 {rng.randrange(10_000):04d}"
                    if field == "phone"
                    else f"v{rng.randrange(10_000)}"
                )
                user = dataclasses.replace(user, **{field: value})
                pm.hook.skypanel_on_user_updated(
                    user=user, changed=frozenset({field}), session=None
                )
            panel[user.id] = user
        recorded_s = time.perf_counter() - started
        while rt.outbox.counts().get(QUEUED, 0):
            time.sleep(0.05)
        drained_s = time.perf_counter() - started
        worker.stop()
        mapping = rt.settings().contact_property_map
        contacts = {c["properties"]["email"]: c["properties"] for c in hubspot.contacts()}
        equal = 0
        for user in panel.values():
            want = user_contact_properties(user, mapping)
            have = contacts.get(want["email"], {})
            equal += all(have.get(k) == v for k, v in want.items())
        requests = [r for r in hubspot.requests if "/contacts" in r.path]
        throttled = sum(1 for r in requests if r.status == 429)
        pm.hook.skypanel_shutdown()
        engine.dispose()
    events = args.users * (1 + args.updates)
    print(f"records: {args.users} users, {events} panel events, recorded in {recorded_s:.1f} s")
    print(
        f"HubSpot requests: {len(requests)} ({throttled} answered 429)   "
        f"per record: {len(requests) / args.users:.3f}   (goal: at most 0.2)"
    )
    print(
        f"records equal to the panel: {equal}/{args.users} = {100 * equal / args.users:.1f}%"
        "   (goal: 100%)"
    )
    print(f"queue drained {drained_s:.1f} s after the first event")


if __name__ == "__main__":
    main()
