"""A delivery worker in its own process: ``python -m skypanel_hubspot_plugin.worker``.

By default the start-up hook runs the worker in a background thread of the panel
process; a host that prefers a separate process runs this one (several may share one
PostgreSQL database). It stops cleanly on SIGTERM and SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal

from sqlalchemy import create_engine

from skypanel_hubspot_plugin.common.scrub import install_log_filter
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.payloads import HostContext
from skypanel_hubspot_plugin.runtime import Runtime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Deliver queued panel events to HubSpot.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SKYPANEL_DATABASE_URL"),
        required="SKYPANEL_DATABASE_URL" not in os.environ,
        help="SQLAlchemy URL of the panel's database (or SKYPANEL_DATABASE_URL)",
    )
    parser.add_argument("--base-url", default=None, help="HubSpot API base URL")
    parser.add_argument(
        "--lease", type=float, default=60.0, help="seconds a claimed row stays with this worker"
    )
    parser.add_argument("--idle", type=float, default=0.5, help="seconds between empty polls")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each HubSpot answer"
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=RetryPolicy.max_attempts,
        help="attempts before a failing delivery is parked",
    )
    parser.add_argument(
        "--max-backoff",
        type=float,
        default=RetryPolicy.cap_s,
        help="longest wait between two attempts, in seconds",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    install_log_filter()
    engine = create_engine(args.database_url)
    host = HostContext(
        engine=engine,
        hubspot_base_url=args.base_url,
        hubspot_timeout=(min(3.05, args.timeout), args.timeout),
    )
    runtime = Runtime.from_host(host, lease_s=args.lease)
    runtime.store.setup()
    policy = RetryPolicy(max_attempts=args.max_attempts, cap_s=args.max_backoff)
    worker = Worker(runtime, idle_s=args.idle, policy=policy)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop_event.set())
    worker.run_forever()


if __name__ == "__main__":
    main()
