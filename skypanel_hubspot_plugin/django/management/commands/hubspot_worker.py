"""``manage.py hubspot_worker``: a delivery worker in its own process, until SIGTERM or Ctrl-C.

For panels that set ``RUN_WORKER: False`` (no delivery thread in the web processes); the
panel's own hook implementations (``PLUGINS``) are registered, so ticket changes found by
polling reach them. Several may run against one PostgreSQL database.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from skypanel_hubspot_plugin import worker
from skypanel_hubspot_plugin.django import lifecycle


class Command(BaseCommand):
    help = "Deliver queued panel events to HubSpot, until SIGTERM or Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        worker.add_worker_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        worker.serve(lifecycle.host_context(run_worker=False), argparse.Namespace(**options))
