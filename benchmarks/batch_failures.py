"""Bad records in batches: what 1% of refused values cost in HubSpot requests.

HubSpot refuses a batch update or upsert whole for one bad input; a batch create whose
inputs carry an objectWriteTraceId is answered per input. This queues N panel users with
1% of them carrying a value HubSpot refuses (an option the portal's lifecycle stage lacks;
an invalid email would be parked by the plugin before any request), lets one worker
deliver them against the fake HubSpot (loopback), then changes every delivered user, 1%
of them to a refused value, and delivers again.

For each phase it prints the requests per user, the extra requests per bad record (over
one request per batch of 100; the bound is 1 + ceil(log2 100) = 8) and the share of good
users delivered (must be 100%).

    python benchmarks/batch_failures.py [--users 1000] [--bad-percent 1] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
from pathlib import Path

from harness import started_plugin
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, select

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, QUEUED, OutboxRow
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.testing import FakeHubSpot

BATCH = 100
CONTACT_MAP = {"email": "email", "first_name": "firstname", "stage": "lifecyclestage"}


def user(i: int, stage: str, bad: bool) -> User:
    if bad:
        stage = "shopper"  # HubSpot: INVALID_OPTION for lifecyclestage
    return User(id=str(i), email=f"user{i}@example.com", first_name=f"U{i}", extra={"stage": stage})


def drain(rt: Runtime, engine: Engine) -> None:
    worker = Worker(rt)
    while True:
        with Session(engine) as session:
            queued = session.exec(select(OutboxRow.id).where(OutboxRow.status == QUEUED)).first()
        if queued is None:
            return
        worker.run_once()


def parked_users(engine: Engine) -> set[str]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.status == DEAD)).all()
    return {r.entity.removeprefix("user:") for r in rows}


def report(phase: str, users: int, bad: int, requests: int, delivered_good: int) -> None:
    base = math.ceil(users / BATCH)
    extra = (requests - base) / bad if bad else 0.0
    good = users - bad
    print(
        f"{phase:<9} {users:>6} users, {bad:>3} bad: {requests:>4} requests, "
        f"{requests / users:.4f} per user, {extra:.2f} extra per bad record "
        f"(bound {1 + math.ceil(math.log2(min(users, BATCH)))}), "
        f"{100.0 * delivered_good / good:.1f}% of good users delivered"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--bad-percent", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    count = round(args.users * args.bad_percent / 100)
    with tempfile.TemporaryDirectory() as folder, FakeHubSpot() as hubspot:
        engine = create_engine(f"sqlite:///{Path(folder) / 'panel.sqlite3'}")
        pm, rt = started_plugin(engine, hubspot.base_url, hubspot_rate_limit="1000")
        rt.store.save({keys.CONTACT_PROPERTY_MAP: CONTACT_MAP})

        bad = set(rng.sample(range(args.users), count))
        with Session(engine) as session:
            for i in range(args.users):
                pm.hook.skypanel_on_user_created(user=user(i, "lead", i in bad), session=session)
            session.commit()
        drain(rt, engine)
        requests = sum("/contacts/batch/" in r.path for r in hubspot.requests)
        good = [i for i in range(args.users) if i not in bad]
        delivered = sum(hubspot.contact_by_email(f"user{i}@example.com") is not None for i in good)
        assert parked_users(engine) == {str(i) for i in bad}
        report("sign-ups", args.users, len(bad), requests, delivered)

        changed_bad = set(rng.sample(good, round(len(good) * args.bad_percent / 100)))
        before = len(hubspot.requests)
        with Session(engine) as session:
            for i in good:
                pm.hook.skypanel_on_user_updated(
                    user=user(i, "customer", i in changed_bad),
                    changed=frozenset({"email", "stage"}),
                    session=session,
                )
            session.commit()
        drain(rt, engine)
        requests = sum("/contacts/batch/" in r.path for r in hubspot.requests[before:])
        delivered = sum(
            (hubspot.contact_by_email(f"user{i}@example.com") or {})
            .get("properties", {})
            .get("lifecyclestage")
            == "customer"
            for i in good
            if i not in changed_bad
        )
        assert parked_users(engine) == {str(i) for i in bad | changed_bad}
        report("changes", len(good), len(changed_bad), requests, delivered)
        pm.hook.skypanel_shutdown()


if __name__ == "__main__":
    main()
