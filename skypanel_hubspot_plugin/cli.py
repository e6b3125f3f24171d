"""Operate the HubSpot plugin of a hosting panel from a shell or a script (``skypanel-hubspot``).

Every command that touches the panel's database takes ``--database-url`` (or reads
``SKYPANEL_DATABASE_URL``); keys come from ``SKYPANEL_HUBSPOT_SECRET_KEYS``. Exit codes:
0 success, 1 the operation failed (the message says why), 2 bad usage, 130 interrupted.

Every option's value is checked before anything is opened (one line, exit 2), and only
``init-db`` creates a SQLite database: the others refuse a path where there is none.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from skypanel_hubspot_plugin import migrations
from skypanel_hubspot_plugin.admin.connection_test import check_connection
from skypanel_hubspot_plugin.admin.delivery_routes import PAUSE_MESSAGE
from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.audit_command import add_audit_options, show_audit
from skypanel_hubspot_plugin.cli_runtime import PARKED, UsageError, command_runtime
from skypanel_hubspot_plugin.cli_sync import cmd_sync_contacts, sync_options
from skypanel_hubspot_plugin.command_options import (
    OneLineParser,
    add_log_format_option,
    add_panel_options,
    group_key,
    whole_number,
)
from skypanel_hubspot_plugin.common.database_url import database_problem
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_logs import (
    JSON,
    log_format,
    send_package_logs_as_json,
    stop_package_json_logs,
)
from skypanel_hubspot_plugin.common.scrub import PACKAGE, install_log_filter, scrub
from skypanel_hubspot_plugin.delivery.health import health
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.migrations import SchemaBusy, SettingsTableMismatch
from skypanel_hubspot_plugin.payloads import HostContext
from skypanel_hubspot_plugin.problems_report import print_problems, replay_problem
from skypanel_hubspot_plugin.settings.secrets import SecretsError, generate_key

#: The bounds of each numeric option: what a person could mean, and what the database and
#: ``timedelta`` can hold (a 20-digit id or a billion days used to end in a traceback).
MAX_DAYS = 36_500  # a hundred years
MAX_LISTED = 10_000
MAX_ID = 2**63 - 1  # the largest id SQLite and PostgreSQL's bigint hold


def cmd_generate_key(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def cmd_init_db(args: argparse.Namespace) -> int:
    # creates or upgrades the tables, waiting for other processes doing so
    command_runtime(args, create=True)
    print(
        f"HubSpot tables (schema version {migrations.head_revision()}) and default "
        "settings are in place."
    )
    return 0


def cmd_test_connection(args: argparse.Namespace) -> int:
    rt = command_runtime(args)
    try:
        service = rt.service(require_enabled=False)
    except HubSpotError:
        service = None
    result = check_connection(
        rt.settings(), service, ticket_changes_problem=rt.ticket_sync_problem(live=False)
    )
    print(json.dumps(result.as_json(), indent=2) if args.json else result.as_text())
    return 0 if result.success else 1


def cmd_rotate_key(args: argparse.Namespace) -> int:
    rt = command_runtime(args)
    changed = rt.store.rotate_key(Actor.command_line())
    key = rt.store.box.primary_key_id
    print(
        f"Stored secrets re-encrypted with key {key}. A panel process that does not have "
        f"key {key} yet keeps the secrets it had read and says it lacks key {key}: give it "
        "the new key (first, keeping the old one after it) and restart it."
        if changed
        else "Nothing to re-encrypt: the stored secrets are already under the newest key "
        "(or unset)."
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rt = command_runtime(args)
    state = health(
        rt.outbox,
        rt.settings().rate_limit,
        rt.api_version(),
        ticket_changes_problem=rt.ticket_sync_problem(live=False),
    )
    if args.json:
        print(json.dumps(state.as_json()))
    else:
        print("\n".join(state.lines()))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    rt = command_runtime(args)
    days = rt.settings().retention_days if args.older_than is None else args.older_than
    purged = rt.outbox.purge(timedelta(days=days), Actor.command_line())
    print(
        f"Erased the personal data of {purged.erased} deliveries delivered more than {days} "
        f"days ago, and deleted {purged.deleted} parked more than {days} days ago."
    )
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    rt = command_runtime(args)
    if args.replay is not None:
        count = rt.outbox.replay(
            args.replay or None, rt.settings().contact_property_map, Actor.command_line()
        )
        print(f"Queued {count} parked deliver{'y' if count == 1 else 'ies'} again.")
        return 0
    status = DEAD if args.status == PARKED else args.status
    rows = rt.outbox.rows(status=status, limit=args.limit)
    counts = {_shown(s): n for s, n in rt.outbox.counts().items()}
    print("  ".join(f"{status}: {n}" for status, n in sorted(counts.items())) or "no deliveries")
    paused = rt.outbox.paused_until()
    if paused is not None:
        print(PAUSE_MESSAGE.format(until=paused.isoformat()))
    waits = rt.outbox.waiting_for(rows)
    for row in rows:
        note = waits.get(row.id or 0) or scrub(row.last_error or "")
        error = f"  {note}" if note else ""
        print(
            f"{row.id:>8}  {_shown(row.status):<9} {row.kind:<15} {row.entity:<24} "
            f"attempts={row.attempts}{error}"
        )
    return 0


def cmd_problems(args: argparse.Namespace) -> int:
    rt = command_runtime(args)
    if args.replay:
        return replay_problem(rt, args.replay, Actor.command_line())
    return print_problems(rt.outbox, as_json=args.json)


def cmd_audit(args: argparse.Namespace) -> int:
    return show_audit(command_runtime(args).audit, args)


def _shown(status: str) -> str:
    return PARKED if status == DEAD else status


def _json_option(help_text: str) -> Callable[[argparse.ArgumentParser, HostContext | None], None]:
    def add(p: argparse.ArgumentParser, host: HostContext | None) -> None:
        p.add_argument("--json", action="store_true", help=help_text)

    return add


def _purge_options(p: argparse.ArgumentParser, host: HostContext | None) -> None:
    p.add_argument(
        "--older-than",
        type=whole_number(0, MAX_DAYS),
        default=None,
        metavar="DAYS",
        help=f"erase those delivered or parked more than DAYS ago, 0 to {MAX_DAYS} "
        "(default: the retention setting)",
    )


def _deliveries_options(p: argparse.ArgumentParser, host: HostContext | None) -> None:
    p.add_argument(
        "--status",
        choices=["queued", "delivered", PARKED],
        help="only deliveries with this status (default: all)",
    )
    p.add_argument(
        "--limit",
        type=whole_number(1, MAX_LISTED),
        default=50,
        help=f"newest deliveries listed, 1 to {MAX_LISTED} (default: %(default)s)",
    )
    p.add_argument(
        "--replay",
        type=whole_number(1, MAX_ID),
        nargs="*",
        metavar="ID",
        help="queue parked deliveries again (all when no id is given; default: list only)",
    )


def _problems_options(p: argparse.ArgumentParser, host: HostContext | None) -> None:
    _json_option("print the groups as JSON (default: text)")(p, host)
    p.add_argument(
        "--replay",
        metavar="KEY",
        type=group_key,
        help="queue the parked rows of this group again (default: list only)",
    )


def _no_options(p: argparse.ArgumentParser, host: HostContext | None) -> None:
    pass


@dataclass(frozen=True)
class Command:
    """One subcommand: what runs it, its help, its own options (``add_options(parser, host)``)
    and whether it opens the panel's database. Framework adapters build their own commands
    (Django's ``manage.py hubspot_status``) from these, so the options are written once."""

    handler: Callable[[argparse.Namespace], int]
    help: str
    add_options: Callable[[argparse.ArgumentParser, HostContext | None], None] = _no_options
    database: bool = True


COMMANDS: dict[str, Command] = {
    "generate-key": Command(cmd_generate_key, "Print a new encryption key.", database=False),
    "init-db": Command(cmd_init_db, "Create the plugin's tables and default settings."),
    "test-connection": Command(
        cmd_test_connection,
        "Check the saved token, its portal and its scopes against HubSpot.",
        _json_option("print the result as JSON (default: a sentence)"),
    ),
    "rotate-key": Command(
        cmd_rotate_key,
        "Re-encrypt the stored token and app secret with the first key of "
        "SKYPANEL_HUBSPOT_SECRET_KEYS. Give every panel process the new key first "
        "(newest first, the old one kept after it), then run this.",
    ),
    "sync-contacts": Command(
        cmd_sync_contacts,
        "Send every panel user to HubSpot as a contact (batch upserts); resumes a run cut "
        "short. With --check, send nothing and list the users HubSpot would refuse.",
        sync_options,
    ),
    "status": Command(
        cmd_status,
        "Show delivery's health: queue depth, oldest waiting row, parked rows, last delivery, "
        "rate-limit budget left, API version.",
        _json_option("print it as JSON (default: text)"),
    ),
    "purge": Command(
        cmd_purge,
        "Erase the personal data of delivered events now (the rows and their outcomes stay), "
        "and delete parked ones as old.",
        _purge_options,
    ),
    "deliveries": Command(
        cmd_deliveries,
        "List deliveries to HubSpot, or queue parked ones again.",
        _deliveries_options,
    ),
    "problems": Command(
        cmd_problems,
        "Parked and long-waiting deliveries grouped by cause, each with its fix; "
        "--replay KEY queues one group again.",
        _problems_options,
    ),
    "audit": Command(
        cmd_audit,
        "Show the audit trail, newest first: who changed the settings, rotated the key, "
        "replayed, purged or synced contacts, when and from where.",
        add_audit_options,
    ),
}


def add_command_options(
    name: str, p: argparse.ArgumentParser, host: HostContext | None = None
) -> None:
    """Gives ``p`` the options of command ``name``; with ``host`` (an adapter's, which knows
    the database) instead of ``--database-url``, ``--base-url`` and ``--api-version``."""
    command = COMMANDS[name]
    p.set_defaults(handler=command.handler, command=name, host=host)
    if command.database and host is None:
        add_panel_options(p)
    command.add_options(p, host)
    add_log_format_option(p, text="quiet, the command says what went wrong itself")


def parser(*, host: HostContext | None = None) -> argparse.ArgumentParser:
    top = OneLineParser(
        prog="skypanel-hubspot",
        description="Operate the HubSpot plugin of a hosting panel from a shell or a script.",
        epilog="Exit codes: 0 success, 1 the operation failed, 2 bad usage, 130 interrupted.",
    )
    sub = top.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        add_command_options(
            name, sub.add_parser(name, help=command.help, description=command.help), host
        )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser().parse_args(argv))


def _say_waits(logger: logging.Logger) -> None:
    """Prints ``logger``'s warnings on stderr as they come (once per logger)."""
    if not any(getattr(h, "says_waits", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.says_waits = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def run(args: argparse.Namespace) -> int:
    """Runs the parsed command ``args`` and returns its exit code, its error said on stderr."""
    install_log_filter()
    try:
        as_json = log_format(getattr(args, "log_format", None)) == JSON
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # With JSON logs, the plugin's records go to stderr as JSON lines for a log pipeline.
    # Otherwise the command says what went wrong itself, once; the plugin's log records are
    # for the host's logs, and Python's last-resort handler would print them too (twice,
    # for a settings problem read by two threads), so the command line keeps them quiet.
    json_logs = send_package_logs_as_json() if as_json else None
    if not as_json:
        logging.getLogger(PACKAGE).addHandler(logging.NullHandler())
        # Except what the command is waiting for: a wait on the database (another process
        # creating the tables, the panel's open transaction) is said while it lasts.
        _say_waits(logging.getLogger(f"{PACKAGE}.migrations"))
    try:
        return _run(args)
    finally:
        stop_package_json_logs(json_logs)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args))
    except (UsageError, InvalidInput) as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except (SecretsError, HubSpotError, ValueError, SchemaBusy, SettingsTableMismatch) as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: {database_problem(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = " run sync-contacts again to resume where it stopped."
        print(f"Interrupted:{resume if args.command == 'sync-contacts' else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
