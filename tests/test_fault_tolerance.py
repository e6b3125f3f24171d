"""Exactly once under fire: a flaky HubSpot, worker processes killed mid-delivery, several at once.

300 users and 100 tickets are recorded by the panel; worker processes (the CLI a host
runs) deliver them while the fake HubSpot fails 30% of calls (429, 500, and answers that
arrive after the client gave up although the work was done). Workers are SIGKILLed
and restarted. At the end HubSpot must hold exactly one contact per user and one ticket
per panel ticket, each tied to the right contact, and the outbox nothing undelivered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import postgres_engine, start_plugin
from sqlalchemy import Engine

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

pytestmark = pytest.mark.slow

USERS = [User(id=str(i), email=f"user{i}@example.com", first_name=f"User{i}") for i in range(300)]
TICKETS = [
    (Ticket(id=f"T-{i}", subject=f"Ticket {i}", priority="high", category="billing"), USERS[i * 3])
    for i in range(100)
]


@pytest.fixture
def flaky() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(seed=20261125) as hubspot:
        hubspot.set_faults(error_rate=0.3, kinds=["429", "500", "slow"], slow_seconds=1.5)
        yield hubspot


def record_panel_events(pm, engine: Engine, secret_key: str, fake: FakeHubSpot) -> Runtime:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, engine, secret_key, fake.base_url, run_worker=False)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            "hubspot_rate_limit": "1000",
        }
    )
    for user in USERS:
        pm.hook.skypanel_on_user_created(user=user, session=None)
    for ticket, user in TICKETS:
        pm.hook.skypanel_on_ticket_created(ticket=ticket, user=user, session=None)
    return rt


def spawn_worker(
    url: str, fake: FakeHubSpot, secret_key: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SKYPANEL_HUBSPOT_SECRET_KEYS": secret_key}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skypanel_hubspot_plugin.worker",
            "--database-url",
            url,
            "--base-url",
            fake.base_url,
            "--lease",
            "3",
            "--idle",
            "0.1",
            "--timeout",
            "1",
            "--max-attempts",
            "60",
            "--max-backoff",
            "2",
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def delivered(rt: Runtime) -> int:
    return rt.outbox.counts().get(DELIVERED, 0)


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def assert_exactly_once(rt: Runtime, fake: FakeHubSpot) -> None:
    counts = rt.outbox.counts()
    assert counts == {DELIVERED: 400}, counts
    contacts = fake.contacts()
    emails = sorted(c["properties"]["email"] for c in contacts)
    assert emails == sorted(u.email for u in USERS)  # one each, no duplicate
    tickets = fake.tickets()
    assert sorted(t["properties"]["skypanel_ticket_id"] for t in tickets) == sorted(
        t.id for t, _ in TICKETS
    )
    by_email = {c["properties"]["email"]: c["id"] for c in contacts}
    for ticket in tickets:
        panel_id = ticket["properties"]["skypanel_ticket_id"]
        owner = dict((t.id, u) for t, u in TICKETS)[panel_id]
        assert fake.associations("tickets", ticket["id"], "contacts") == [by_email[owner.email]]
        assert ticket["properties"]["hs_ticket_priority"] == "HIGH"


def test_sigkilled_workers_still_deliver_everything_exactly_once(  # type: ignore[no-untyped-def]
    pm, sqlite_engine: Engine, secret_key: str, flaky: FakeHubSpot, tmp_path: Path
) -> None:
    rt = record_panel_events(pm, sqlite_engine, secret_key, flaky)
    url = str(sqlite_engine.url)
    log = tmp_path / "worker.log"
    kills = 0
    worker = spawn_worker(url, flaky, secret_key, log)
    try:
        while kills < 3:
            before = delivered(rt)
            wait_until(
                lambda b=before: delivered(rt) >= b + 40 or delivered(rt) == 400,
                120,
                "progress before a kill",
            )
            if delivered(rt) == 400:
                break
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            kills += 1
            worker = spawn_worker(url, flaky, secret_key, log)
        wait_until(lambda: delivered(rt) == 400, 240, "every row delivered")
    finally:
        worker.kill()
        worker.wait(10)
    assert kills == 3, f"only {kills} kills happened before the queue drained"
    assert_exactly_once(rt, flaky)


@pytest.mark.postgres
def test_three_workers_on_postgresql_deliver_everything_exactly_once(  # type: ignore[no-untyped-def]
    pm, secret_key: str, flaky: FakeHubSpot, tmp_path: Path
) -> None:
    engines = postgres_engine()
    engine = next(engines)
    try:
        rt = record_panel_events(pm, engine, secret_key, flaky)
        url = engine.url.render_as_string(hide_password=False)
        workers = [
            spawn_worker(url, flaky, secret_key, tmp_path / f"worker{i}.log") for i in range(3)
        ]
        try:
            wait_until(lambda: delivered(rt) == 400, 240, "every row delivered")
        finally:
            for worker in workers:
                worker.kill()
                worker.wait(10)
        assert_exactly_once(rt, flaky)
    finally:
        pm.hook.skypanel_shutdown()
        next(engines, None)
