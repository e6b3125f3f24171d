"""The Django app: ``"skypanel_hubspot_plugin.django"`` in ``INSTALLED_APPS``."""

from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import request_started


class HubSpotConfig(AppConfig):
    """Checks ``settings.SKYPANEL_HUBSPOT`` at start and starts the plugin on the process's
    first request (see :mod:`skypanel_hubspot_plugin.django.lifecycle` for why not here)."""

    name = "skypanel_hubspot_plugin.django"
    label = "skypanel_hubspot"
    verbose_name = "HubSpot"

    def ready(self) -> None:
        from skypanel_hubspot_plugin.django import config, lifecycle

        config.current()  # a mistyped setting stops the start here, naming the key
        request_started.connect(lifecycle.on_request_started, dispatch_uid="skypanel_hubspot_start")
