"""A delivery worker in its own process: ``python -m skypanel_hubspot_plugin.worker``.

By default the start-up hook runs the worker in a background thread of the panel
process; a host that prefers a separate process runs this one (several may share one
PostgreSQL database). It stops cleanly on SIGTERM and SIGINT. With polling chosen as the
way ticket changes come back, it also polls HubSpot, and fires the host's
``skypanel_on_hubspot_ticket_changed`` through the plugins of the ``skypanel`` entry point
group and those named with ``--plugin``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal

from sqlalchemy import create_engine

from skypanel_hubspot_plugin import plugin_manager
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot.versions import SUPPORTED, UnknownApiVersion, version_named
from skypanel_hubspot_plugin.payloads import HostContext
from skypanel_hubspot_plugin.runtime import Runtime


def _api_version(value: str) -> str:
    try:
        return version_named(value).name
    except UnknownApiVersion as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _import(parser: argparse.ArgumentParser, spec: str) -> object:
    """``module:name`` → that object; an unusable one stops the command with its reason."""
    module_name, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        parser.error(f"--plugin {spec}: {exc}")


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
        "--api-version",
        type=_api_version,
        default=None,
        help=f"HubSpot API version, overriding the setting ({', '.join(SUPPORTED)})",
    )
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
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="seconds between polls of HubSpot for changed tickets, overriding the setting",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE:NAME",
        help="a plugin object to register besides the entry points, e.g. the host's "
        "implementation of skypanel_on_hubspot_ticket_changed (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    engine = create_engine(args.database_url)
    pm = plugin_manager()  # the host's hooks, for ticket changes found by polling
    for spec in args.plugin:
        pm.register(_import(parser, spec))
    host = HostContext(
        engine=engine,
        hubspot_base_url=args.base_url,
        hubspot_api_version=args.api_version,
        hubspot_timeout=(min(3.05, args.timeout), args.timeout),
        plugin_manager=pm,
        ticket_poll_interval=args.poll_interval,
    )
    runtime = Runtime.from_host(host, lease_s=args.lease)
    runtime.store.setup()
    policy = RetryPolicy(max_attempts=args.max_attempts, cap_s=args.max_backoff)
    worker = Worker(runtime, idle_s=args.idle, policy=policy, periodic=[runtime.poller.poll_if_due])

    def stop(*_: object) -> None:
        runtime.poller.stop_event.set()
        worker.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run_forever()


if __name__ == "__main__":
    main()
