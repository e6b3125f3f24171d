"""A delivery worker in its own process: ``python -m skypanel_hubspot_plugin.worker``.

By default the start-up hook runs the worker in a background thread of the panel
process; a host that prefers a separate process runs this one (several may share one
PostgreSQL database). It stops cleanly on SIGTERM and SIGINT.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace

import pluggy
from sqlalchemy.exc import SQLAlchemyError

from skypanel_hubspot_plugin import plugin_manager
from skypanel_hubspot_plugin.command_options import (
    OneLineParser,
    add_log_format_option,
    add_panel_options,
    seconds,
    whole_number,
)
from skypanel_hubspot_plugin.common.database_url import database_problem, engine_from_url
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_logs import (
    JSON,
    has_json_handler,
    json_handler,
    log_format,
    send_package_logs_as_json,
)
from skypanel_hubspot_plugin.common.scrub import install_log_filter
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.worker import IDLE_S, Worker
from skypanel_hubspot_plugin.payloads import HostContext
from skypanel_hubspot_plugin.runtime import Runtime

PROG = "python -m skypanel_hubspot_plugin.worker"


def _import(parser: argparse.ArgumentParser, spec: str) -> object:
    """``module:name`` → that object; an unusable one stops the command with its reason."""
    module_name, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        parser.error(f"--plugin {spec}: {exc}")


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """The worker's own options (lease, idle, timeout, retries, polling), each help showing
    its default; shared with framework adapters' worker commands."""
    parser.add_argument(
        "--lease",
        type=seconds(1.0, 3600.0),
        default=60.0,
        help="seconds a claimed row stays with this worker (default: %(default)s)",
    )
    parser.add_argument(
        "--idle",
        type=seconds(0.01, 86_400.0),
        default=IDLE_S,
        help="longest sleep while idle, in seconds; new events wake the worker sooner "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds(0.1, 600.0),
        default=10.0,
        help="seconds to wait for each HubSpot answer (default: %(default)s)",
    )
    parser.add_argument(
        "--max-attempts",
        type=whole_number(1, 1000),
        default=RetryPolicy.max_attempts,
        help="attempts before a failing delivery is parked (default: %(default)s)",
    )
    parser.add_argument(
        "--max-backoff",
        type=seconds(1.0, 86_400.0),
        default=RetryPolicy.cap_s,
        help="longest wait between two attempts, in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--poll-interval",
        type=seconds(0.1, 86_400.0),
        default=None,
        help="seconds between polls of HubSpot for changed tickets, overriding the setting "
        "(default: the setting's)",
    )
    add_log_format_option(parser, text="one line of text per record")


def parser() -> argparse.ArgumentParser:
    """The worker's options; each help text shows the default."""
    parser = OneLineParser(
        prog=PROG,
        description="Deliver queued panel events to HubSpot, until SIGTERM or Ctrl-C.",
    )
    add_panel_options(parser)
    add_worker_options(parser)
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE:NAME",
        help="a plugin object to register besides the entry points, e.g. the host's "
        "implementation of skypanel_on_hubspot_ticket_changed (repeatable; default: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, pm: pluggy.PluginManager | None = None) -> None:
    """Runs a worker until SIGTERM or SIGINT. ``pm``: the host's plugin manager (a framework
    adapter's command passes the app's, with its hook implementations), else a new one."""
    options = parser()
    args = options.parse_args(argv)
    try:
        chosen = log_format(args.log_format)
    except ValueError as exc:
        options.error(str(exc))
    if chosen == JSON:  # every logger's records, the libraries' too
        logging.basicConfig(level=logging.INFO, handlers=[json_handler()])
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    install_log_filter()
    try:
        engine = engine_from_url(args.database_url, existing=True)  # never a new, empty one
    except InvalidInput as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if pm is None:
        pm = plugin_manager()  # the host's hooks, for ticket changes found by polling
    for spec in args.plugin:
        pm.register(_import(options, spec))
    host = HostContext(
        engine=engine,
        plugin_manager=pm,
        hubspot_base_url=args.base_url,
        hubspot_api_version=args.api_version,
    )
    serve(host, args)


def serve(host: HostContext, args: argparse.Namespace) -> None:
    """Delivers for ``host`` until SIGTERM or SIGINT; ``args`` holds :func:`add_worker_options`'
    values, which override ``host``'s timeout and ticket poll interval, and whose
    ``--log-format json`` sends the plugin's records to stderr as JSON lines (a framework's
    worker command, whose logging is the framework's)."""
    try:
        chosen = log_format(getattr(args, "log_format", None))
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if chosen == JSON and not has_json_handler(logging.getLogger()):
        send_package_logs_as_json()
    host = replace(
        host,
        ticket_poll_interval=args.poll_interval,
        hubspot_timeout=(min(3.05, args.timeout), args.timeout),
    )
    runtime = Runtime.from_host(host, lease_s=args.lease)
    try:
        runtime.store.setup()
    except SQLAlchemyError as exc:
        print(f"{PROG}: error: {database_problem(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
    policy = RetryPolicy(max_attempts=args.max_attempts, cap_s=args.max_backoff)
    worker = Worker(
        runtime, idle_s=args.idle, policy=policy, periodic=[runtime.poller, runtime.conversations]
    )

    def stop(*_: object) -> None:
        runtime.poller.stop_event.set()
        runtime.conversations.stop_event.set()
        worker.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run_forever()


if __name__ == "__main__":
    main()
