"""``skypanel-hubspot sync-contacts --check``: the backfill's preflight, on the command line.

Reads the panel's users and the portal's contact properties and prints which users HubSpot
would refuse (see :mod:`skypanel_hubspot_plugin.mapping.preflight`); sends HubSpot no
write and queues nothing. Exit 0 when no user would be refused, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys

from skypanel_hubspot_plugin import runtime as runtime_module
from skypanel_hubspot_plugin.command_options import whole_number
from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.mapping.preflight import MAX_SHOWN, SHOWN, check_users
from skypanel_hubspot_plugin.payloads import ListUsers


def check_contacts(
    rt: runtime_module.Runtime, list_users: ListUsers, *, shown: int, page_size: int, as_json: bool
) -> int:
    """Runs the check and prints its report (text, or JSON with ``as_json``)."""
    settings = rt.settings()
    report = check_users(
        rt.service(require_enabled=False),
        list_users,
        settings.contact_property_map,
        shown=shown,
        page_size=page_size,
    )
    if as_json:
        print(scrub(json.dumps(report.as_json(), indent=2)))
    else:
        for line in report.lines():
            print(scrub(line))
        if report.refused_users:
            print(
                "Fix the values in the panel or the contact property map, then run "
                "sync-contacts without --check.",
                file=sys.stderr,
            )
    return 1 if report.refused_users else 0


def add_check_options(p: argparse.ArgumentParser) -> None:
    """sync-contacts' ``--check`` and what goes with it."""
    p.add_argument(
        "--check",
        action="store_true",
        help="send nothing: list the users whose mapped values HubSpot would refuse, "
        "exit 1 when there are any (default: sync them)",
    )
    p.add_argument(
        "--show",
        type=whole_number(1, MAX_SHOWN),
        default=SHOWN,
        metavar="N",
        help=f"with --check, problems listed, 1 to {MAX_SHOWN} (default: %(default)s)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="with --check, print the report as JSON (default: text)",
    )
