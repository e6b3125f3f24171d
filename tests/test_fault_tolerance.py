"""HubSpot equals the panel under fire: a flaky HubSpot, workers killed mid-delivery, several at once.

300 users and 100 tickets are recorded by the panel, then changed in bursts while worker
processes (the CLI a host runs) deliver them, the fake HubSpot fails 30% of calls (429,
500, answers that arrive after the client gave up, and work done with the answer lost:
a 504 or a dropped connection), and workers are SIGKILLed and restarted. At the end
HubSpot must hold exactly one contact per user and one ticket per panel ticket, each
tied to the right contact and holding the panel's latest values, and the outbox nothing
undelivered or parked.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import postgres_engine, start_plugin
from convergence import Panel, differences
from sqlalchemy import Engine
from worker_process import spawn_worker

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
        hubspot.set_faults(
            error_rate=0.3,
            kinds=["429", "500", "slow", "lost-504", "lost-drop"],
            slow_seconds=1.5,
        )
        yield hubspot


def record_panel_events(
    pm, engine: Engine, secret_key: str, fake: FakeHubSpot
) -> tuple[Runtime, Panel]:  # type: ignore[no-untyped-def]
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
    panel = Panel(pm)
    for user in USERS:
        panel.user(user.id, {"first_name": user.first_name})
    for ticket, user in TICKETS:
        panel.ticket(ticket.id, user.id, {"priority": "high", "category": "billing"})
    return rt, panel


def burst_of_changes(panel: Panel, rng: random.Random) -> None:
    """A burst: 30 users and 10 tickets changed one to three times each, back to back."""
    for user_id in rng.sample(sorted(panel.users), 30):
        for _ in range(rng.randint(1, 3)):
            n = rng.randrange(10_000)
            panel.user(user_id, {"phone": f"+1 555 {n:04d}", "last_name": f"L{n}"})
    for ticket_id in rng.sample(sorted(panel.tickets), 10):
        for _ in range(rng.randint(1, 3)):
            panel.ticket(
                ticket_id,
                panel.tickets[ticket_id][1],
                {
                    "status": rng.choice(["open", "waiting", "in_progress", "closed"]),
                    "priority": rng.choice(["low", "medium", "high"]),
                },
            )


FLAKY_WORKER = (
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
)


def delivered(rt: Runtime) -> int:
    return rt.outbox.counts().get(DELIVERED, 0)


def all_delivered(rt: Runtime) -> bool:
    counts = rt.outbox.counts()
    return set(counts) == {DELIVERED}


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def assert_hubspot_equals_panel(rt: Runtime, fake: FakeHubSpot, panel: Panel) -> None:
    counts = rt.outbox.counts()
    assert set(counts) == {DELIVERED}, counts
    assert differences(rt, fake, panel.users, panel.tickets) == []


def test_sigkilled_workers_leave_hubspot_equal_to_the_panel(  # type: ignore[no-untyped-def]
    pm, sqlite_engine: Engine, secret_key: str, flaky: FakeHubSpot, tmp_path: Path
) -> None:
    rt, panel = record_panel_events(pm, sqlite_engine, secret_key, flaky)
    rng = random.Random(7)
    url = str(sqlite_engine.url)
    log = tmp_path / "worker.log"
    kills = 0
    worker = spawn_worker(url, flaky, secret_key, log, *FLAKY_WORKER)
    try:
        while kills < 3:
            before = delivered(rt)
            wait_until(
                lambda b=before: delivered(rt) >= b + 40 or all_delivered(rt),
                120,
                "progress before a kill",
            )
            burst_of_changes(panel, rng)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            kills += 1
            worker = spawn_worker(url, flaky, secret_key, log, *FLAKY_WORKER)
        wait_until(lambda: all_delivered(rt), 240, "every row delivered")
    finally:
        worker.kill()
        worker.wait(10)
    assert kills == 3
    assert_hubspot_equals_panel(rt, flaky, panel)


@pytest.mark.postgres
def test_three_workers_on_postgresql_leave_hubspot_equal_to_the_panel(  # type: ignore[no-untyped-def]
    pm, secret_key: str, flaky: FakeHubSpot, tmp_path: Path
) -> None:
    engines = postgres_engine()
    engine = next(engines)
    rng = random.Random(11)
    try:
        rt, panel = record_panel_events(pm, engine, secret_key, flaky)
        url = engine.url.render_as_string(hide_password=False)
        logs = [tmp_path / f"worker{i}.log" for i in range(3)]
        workers = [spawn_worker(url, flaky, secret_key, log, *FLAKY_WORKER) for log in logs]
        try:
            for _ in range(4):  # bursts of changes while a random worker is SIGKILLed
                before = delivered(rt)
                wait_until(
                    lambda b=before: delivered(rt) >= b + 40 or all_delivered(rt),
                    120,
                    "progress before a kill",
                )
                burst_of_changes(panel, rng)
                victim = rng.randrange(3)
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait(10)
                workers[victim] = spawn_worker(url, flaky, secret_key, logs[victim], *FLAKY_WORKER)
            wait_until(lambda: all_delivered(rt), 240, "every row delivered")
        finally:
            for worker in workers:
                worker.kill()
                worker.wait(10)
        assert_hubspot_equals_panel(rt, flaky, panel)
    finally:
        pm.hook.skypanel_shutdown()
        next(engines, None)
