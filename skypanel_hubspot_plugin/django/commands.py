"""``manage.py hubspot_*``: the ``skypanel-hubspot`` commands, configured from Django's
settings instead of ``--database-url`` and environment variables. Options, output and
exit codes are the command line's (:mod:`skypanel_hubspot_plugin.cli`)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from skypanel_hubspot_plugin import cli
from skypanel_hubspot_plugin.django import lifecycle


class CliCommand(BaseCommand):
    """A Django command running the ``skypanel-hubspot`` command ``cli_name``."""

    cli_name = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = cli.COMMANDS[self.cli_name].help

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_command_options(self.cli_name, parser, lifecycle.host_context(run_worker=False))

    def handle(self, *args: Any, **options: Any) -> None:
        code = cli.run(argparse.Namespace(**options))
        if code:
            raise SystemExit(code)


def cli_command(name: str) -> type[CliCommand]:
    """The ``Command`` class of a ``management/commands/hubspot_*.py`` module."""
    return type("Command", (CliCommand,), {"cli_name": name})
