"""``skypanel-hubspot audit``: the audit trail on the command line, newest first.

One line per entry (when, what, who and from where, the keys changed or the counts), or
with ``--json`` the admin API's answer, ``{"entries": [...], "next": {"before": id}}``.
"""

from __future__ import annotations

import argparse
import json

from skypanel_hubspot_plugin.audit.trail import AuditTrail, entry_json, entry_line
from skypanel_hubspot_plugin.command_options import whole_number
from skypanel_hubspot_plugin.payloads import HostContext

MAX_LISTED = 10_000
MAX_ID = 2**63 - 1


def add_audit_options(p: argparse.ArgumentParser, host: HostContext | None) -> None:
    p.add_argument(
        "--limit",
        type=whole_number(1, MAX_LISTED),
        default=20,
        help=f"newest entries listed, 1 to {MAX_LISTED} (default: %(default)s)",
    )
    p.add_argument(
        "--before",
        type=whole_number(1, MAX_ID),
        default=None,
        metavar="ID",
        help="only entries older than entry ID: the next page (default: the newest)",
    )
    p.add_argument("--json", action="store_true", help="print them as JSON (default: text)")


def show_audit(trail: AuditTrail, args: argparse.Namespace) -> int:
    """Prints the entries ``args`` asks for; exit code 0."""
    found = trail.entries(args.limit + 1, args.before)
    page = found[: args.limit]
    if args.json:
        more = len(found) > args.limit and page
        body = {
            "entries": [entry_json(e) for e in page],
            "next": {"before": page[-1].id} if more else None,
        }
        print(json.dumps(body))
    elif page:
        print("\n".join(entry_line(e) for e in page))
    else:
        print("No audit entries.")
    return 0
