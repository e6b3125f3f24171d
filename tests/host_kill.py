"""Killing a worker process while HubSpot holds its answer, for each framework's host."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from worker_process import spawn_worker

from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot

WORKER = ("--lease", "2", "--idle", "0.1", "--timeout", "10")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def kill_mid_delivery_then_deliver(
    url: str, rt: Runtime, fake: FakeHubSpot, secret_key: str, log: Path, emails: Sequence[str]
) -> None:
    """A worker sends the queued contacts; HubSpot does the work but holds the answer, and
    the worker is SIGKILLed meanwhile. A second worker must finish: each contact once in
    HubSpot, every row delivered."""
    fake.set_faults(error_rate=1.0, kinds=["slow"], slow_seconds=30)
    worker = spawn_worker(url, fake, secret_key, log, *WORKER)
    try:
        wait_until(
            lambda: any(r.method == "POST" and "contacts" in r.path for r in list(fake.requests)),
            60,
            "the worker to send the contacts",
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        worker.kill()
        worker.wait(10)
    assert rt.outbox.counts().get(DELIVERED, 0) == 0, "killed before it heard HubSpot's answer"
    assert len(fake.contacts()) == len(emails), "HubSpot did the work; the panel never heard"
    fake.set_faults()
    worker = spawn_worker(url, fake, secret_key, log, *WORKER)
    try:
        wait_until(lambda: set(rt.outbox.counts()) == {DELIVERED}, 60, "every row delivered")
    finally:
        worker.kill()
        worker.wait(10)
    in_hubspot = Counter(c["properties"]["email"] for c in fake.contacts())
    assert in_hubspot == Counter(emails)
