"""``flask hubspot ...``: the plugin's commands on the app's own database and settings.

Each one is the ``skypanel-hubspot`` command (or the worker) of the same name, run with
the app's engine, keys and HubSpot address, so an operator types no database URL; the
options after the command's name are that command's (``flask hubspot status --json``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click
import pluggy
from sqlalchemy import Engine

from skypanel_hubspot_plugin import cli
from skypanel_hubspot_plugin import worker as worker_process
from skypanel_hubspot_plugin.settings.secrets import KEYS_ENV

#: ``flask hubspot NAME`` → what it runs: ``skypanel-hubspot NAME`` or the worker.
COMMANDS = {
    "worker": "Deliver queued panel events to HubSpot, until SIGTERM or Ctrl-C.",
    "sync-contacts": "Send every panel user to HubSpot as a contact; resumes a run cut short.",
    "status": "Show delivery's health: queue depth, oldest waiting row, parked rows.",
    "deliveries": "List deliveries to HubSpot, or queue parked ones again.",
    "problems": "Parked and long-waiting deliveries grouped by cause, with the fix for each.",
    "purge": "Erase the personal data of delivered events now.",
    "test-connection": "Check the saved token, its portal and its scopes against HubSpot.",
    "init-db": "Create or upgrade the plugin's tables and default settings.",
    "rotate-key": "Re-encrypt the stored token with the newest key.",
    "audit": "Show the audit trail: who changed the integration, when, from where.",
}
PASS_THROUGH: dict[str, Any] = {"ignore_unknown_options": True, "help_option_names": []}


def hubspot_commands(
    config: Mapping[str, Any], engine: Callable[[], Engine], pm: pluggy.PluginManager
) -> click.Group:
    """The ``hubspot`` command group for ``app.cli``: ``config`` is the app's, ``engine()``
    the plugin's engine, ``pm`` the host's plugin manager (for the worker)."""
    group = click.Group("hubspot", help="Operate the HubSpot plugin on this app's database.")
    for name, help_text in COMMANDS.items():
        group.add_command(_command(config, engine, pm, name, help_text))
    return group


def _command(
    config: Mapping[str, Any],
    engine: Callable[[], Engine],
    pm: pluggy.PluginManager,
    name: str,
    help_text: str,
) -> click.Command:
    @click.pass_context
    def run(ctx: click.Context, args: tuple[str, ...]) -> None:
        argv = [*_panel_options(config, engine()), *args]
        users = config["SKYPANEL_HUBSPOT_USERS"]
        if name == "sync-contacts" and users and "--users" not in args:
            argv += ["--users", users]
        with _keys_in_environment(config):
            if name == "worker":
                worker_process.main(argv, pm=pm)
                return
            code = cli.main([name, *argv])
        ctx.exit(code)

    return click.Command(
        name,
        callback=run,
        help=f"{help_text} Options: those of `skypanel-hubspot {name} --help`.",
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        context_settings=PASS_THROUGH,
    )


def _panel_options(config: Mapping[str, Any], engine: Engine) -> list[str]:
    """The app's database and HubSpot address as the commands' options. The URL keeps its
    password: it goes to a function of this process, not onto a command line others see."""
    options = ["--database-url", engine.url.render_as_string(hide_password=False)]
    if config.get("SKYPANEL_HUBSPOT_BASE_URL"):
        options += ["--base-url", config["SKYPANEL_HUBSPOT_BASE_URL"]]
    if config.get("SKYPANEL_HUBSPOT_API_VERSION"):
        options += ["--api-version", config["SKYPANEL_HUBSPOT_API_VERSION"]]
    return options


@contextmanager
def _keys_in_environment(config: Mapping[str, Any]) -> Iterator[None]:
    """The app's keys where the commands read them (the environment), while one runs."""
    keys = config["SKYPANEL_HUBSPOT_SECRET_KEYS"]
    before = os.environ.get(KEYS_ENV)
    if keys:
        os.environ[KEYS_ENV] = keys if isinstance(keys, str) else ",".join(keys)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(KEYS_ENV, None)
        else:
            os.environ[KEYS_ENV] = before
