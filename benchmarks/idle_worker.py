"""An idle worker's cost and its wake-up: queries per minute while idle, and how soon an
event committed while idle starts its delivery.

Two set-ups: SQLite with the worker in the panel's process (woken by the in-process
signal), and PostgreSQL with the worker on its own engine, as a separate process has
(woken by LISTEN/NOTIFY), whose settings cache hears of saves by LISTEN/NOTIFY too. On
PostgreSQL every query on the worker's engine is counted, from any thread; on SQLite the
worker thread's, and apart from them the settings watcher's, which every process running
the plugin has: it looks at SQLite's ``data_version`` every ``settings_poll_interval`` (2 s
by default; a PRAGMA on a connection of its own, no table read, counted apart) and reads
the revision row only when that moved.

Goals: at most 2 queries a minute per idle worker, and per idle process for its settings;
delivery starts within 200 ms (p50) and 1 s (p99) of the commit.

    python benchmarks/idle_worker.py [--idle-seconds 60] [--events 40]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness import postgres_url
from sqlalchemy import Engine, create_engine, event

from skypanel_hubspot_plugin import HostContext, User, plugin_manager
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime, current
from skypanel_hubspot_plugin.settings.secrets import SecretBox, generate_key
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot


class QueryCounter:
    """Queries on ``engine`` from the thread named ``thread_name``, or from any thread."""

    def __init__(self, engine: Engine, thread_name: str | None = None) -> None:
        self.count = 0
        self.thread_name = thread_name
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        if self.thread_name in (None, threading.current_thread().name):
            self.count += 1


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.001)


def measure(name: str, engine: Engine, worker_engine: Engine | None, args: Any) -> None:
    key = generate_key()
    with FakeHubSpot() as hubspot:
        pm = plugin_manager()
        pm.hook.skypanel_startup(
            host=HostContext(
                engine=engine,
                secret_keys=[key],
                hubspot_base_url=hubspot.base_url,
                run_worker=False,
            )
        )
        rt = current()
        rt.store.save(
            {
                "hubspot_enabled": True,
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_api_key": FAKE_TOKEN,
            }
        )
        if worker_engine is None:
            worker_rt = rt
            counter = QueryCounter(engine, "hubspot-delivery")
            settings_polls = QueryCounter(engine, "hubspot-settings-watch")
        else:  # the worker's own engine and runtime, as in a separate process
            worker_rt = Runtime(worker_engine, SecretBox([key]), base_url=hubspot.base_url)
            worker_rt.store.setup()
            worker_rt.store.start_watching()
            counter = QueryCounter(worker_engine)
            settings_polls = None
        worker = Worker(worker_rt)
        worker.start_thread()
        # Warm up: one event delivered, then idle.
        pm.hook.skypanel_on_user_created(user=User(id="w", email="warm@example.com"), session=None)
        wait_for(lambda: hubspot.contact_by_email("warm@example.com") is not None)
        time.sleep(2.0)
        before = counter.count
        polls_before = settings_polls.count if settings_polls else 0
        looks_before = rt.store.data_version.looks if rt.store.data_version else 0
        time.sleep(args.idle_seconds)
        per_minute = (counter.count - before) * 60 / args.idle_seconds
        polls = (
            (settings_polls.count - polls_before) * 60 / args.idle_seconds if settings_polls else 0
        )
        looks = rt.store.data_version.looks - looks_before if rt.store.data_version else 0
        looks_per_minute = looks * 60 / args.idle_seconds
        latencies = []
        for i in range(args.events):
            time.sleep(0.3)  # the worker is idle again
            seen = len(hubspot.requests)
            with engine.begin() as connection:
                pm.hook.skypanel_on_user_created(
                    user=User(id=str(i), email=f"u{i}@example.com"), session=connection
                )
            committed = time.perf_counter()
            wait_for(lambda s=seen: len(hubspot.requests) > s)
            latencies.append(time.perf_counter() - committed)
        worker.stop()
        if worker_engine is not None:
            worker_rt.store.stop_watching()
        pm.hook.skypanel_shutdown()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"{name}:")
    what = "the worker's" if settings_polls else "all of the worker's engine"
    print(f"  idle queries per minute, {what}: {per_minute:.1f}   (goal: at most 2)")
    if settings_polls:
        print(
            f"  the process's settings watcher: {polls:.1f} queries a minute (goal: at most 2), "
            f"{looks_per_minute:.0f} looks at SQLite's data_version (no table read)"
        )
    print(
        f"  commit to first HubSpot request: p50 {p50:.0f} ms (goal 200), "
        f"p99 {p99:.0f} ms (goal 1000), over {len(latencies)} events"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'panel.sqlite3'}")
        measure("SQLite, worker in the panel's process", engine, None, args)
        engine.dispose()
    with postgres_url() as url:
        if url is None:
            return
        panel, worker = create_engine(url), create_engine(url)
        measure("PostgreSQL, worker on its own connection (LISTEN/NOTIFY)", panel, worker, args)
        panel.dispose()
        worker.dispose()


if __name__ == "__main__":
    main()
