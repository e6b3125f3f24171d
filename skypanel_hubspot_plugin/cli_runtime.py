"""What every ``skypanel-hubspot`` command starts from: the plugin's runtime on the panel's
database, and the error for a command line naming something unusable (exit code 2)."""

from __future__ import annotations

import argparse
import sys

from skypanel_hubspot_plugin import runtime as runtime_module
from skypanel_hubspot_plugin.common.database_url import engine_from_url
from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.payloads import HostContext

#: The word the admin pages use for the outbox's ``dead`` status.
PARKED = "parked"


class UsageError(Exception):
    """The command line names something that cannot be used; exit code 2."""


def command_runtime(args: argparse.Namespace, *, create: bool = False) -> runtime_module.Runtime:
    """The plugin's runtime on the database the command names (or the adapter's host),
    its tables set up; stored settings it ignores are said on stderr."""
    host = getattr(args, "host", None) or HostContext(
        engine=engine_from_url(args.database_url, existing=not create),
        hubspot_base_url=args.base_url,
        hubspot_api_version=args.api_version,
    )
    rt = runtime_module.Runtime.from_host(host)
    rt.store.setup()
    _say_setting_problems(rt)
    return rt


#: Problems a command that needs the secret reports itself, as its error.
_SECRET_KEYS = frozenset({"hubspot_api_key", "hubspot_app_secret"})


def _say_setting_problems(rt: runtime_module.Runtime) -> None:
    """One line on stderr for stored settings the plugin ignores (a hand edit, an old
    install): the command goes on with the values last read well, or the defaults."""
    problems = {k: v for k, v in rt.settings().problems.items() if k not in _SECRET_KEYS}
    if problems:
        listed = "; ".join(f"{key}: {problem}" for key, problem in problems.items())
        print(f"warning: settings ignored, defaults in force: {scrub(listed)}", file=sys.stderr)
