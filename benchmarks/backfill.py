"""Backfill economy: HubSpot requests per contact for a large queue, and the wall time.

Queues N contact upserts, then lets one worker drain them against a fake HubSpot that
enforces HubSpot's default limit (100 requests per 10 s). Prints requests per contact
(goal: at most 0.011, i.e. batches of 100) and how long the queue took.

    python benchmarks/backfill.py [--contacts 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from skypanel_hubspot_plugin import HostContext, User, plugin_manager
from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import current
from skypanel_hubspot_plugin.settings.secrets import generate_key
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeHubSpot(rate_limit=100) as hubspot:
        engine = create_engine(f"sqlite:///{Path(folder) / 'panel.sqlite3'}")
        pm = plugin_manager()
        pm.hook.skypanel_startup(
            host=HostContext(
                engine=engine,
                secret_keys=[generate_key()],
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
    print(f"drained in {drain_s:.1f} s against a limit of 100 requests / 10 s")


if __name__ == "__main__":
    main()
