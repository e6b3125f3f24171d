"""HubSpot for Python hosting panels, as a ``skypanel`` pluggy plugin.

A host builds its plugin manager with :func:`plugin_manager`, fires
``skypanel_startup(host=HostContext(engine=..., secret_keys=[generate_key()]))`` once,
and then the page and event hooks described in :mod:`skypanel_hubspot_plugin.hookspecs`.
Settings are saved by the admin's settings form, or by the host with
:func:`save_settings`. Everything a host needs is importable from here (``__all__``);
its tests use :mod:`skypanel_hubspot_plugin.testing`.
"""

from __future__ import annotations

import os
from importlib.metadata import version as _distribution_version

import pluggy

from skypanel_hubspot_plugin import hookspecs
from skypanel_hubspot_plugin.admin.settings_routes import save_settings
from skypanel_hubspot_plugin.common.json_logs import JsonLogFormatter
from skypanel_hubspot_plugin.delivery.wake import wake_workers
from skypanel_hubspot_plugin.hookspecs import PROJECT, hookimpl, hookspec
from skypanel_hubspot_plugin.payloads import (
    AdminRequest,
    AdminResponse,
    FormConsent,
    HostContext,
    HubSpotBornTicket,
    HubSpotTicketMessage,
    PageContext,
    SettingField,
    SubscriptionConsent,
    Ticket,
    TicketChange,
    TicketMessage,
    User,
    Visitor,
)
from skypanel_hubspot_plugin.settings.model import InvalidSettings
from skypanel_hubspot_plugin.settings.secrets import generate_key

#: The installed distribution's version; setup.cfg is the one place it is written.
__version__ = _distribution_version("skypanel-hubspot-plugin")

#: Comma-separated entry-point names to skip, like tox's TOX_DISABLED_EXTERNAL_PLUGINS.
DISABLED_PLUGINS_ENV = "SKYPANEL_DISABLED_PLUGINS"


def plugin_manager(*, load_entrypoints: bool = True) -> pluggy.PluginManager:
    """A ``skypanel`` plugin manager with the hookspecs added and installed plugins loaded.

    Plugins named in ``SKYPANEL_DISABLED_PLUGINS`` are blocked before loading.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in filter(
        None, (n.strip() for n in os.environ.get(DISABLED_PLUGINS_ENV, "").split(","))
    ):
        pm.set_blocked(name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(PROJECT)
    return pm


__all__ = [
    "PROJECT",
    "AdminRequest",
    "AdminResponse",
    "FormConsent",
    "HostContext",
    "HubSpotBornTicket",
    "HubSpotTicketMessage",
    "InvalidSettings",
    "JsonLogFormatter",
    "PageContext",
    "SettingField",
    "SubscriptionConsent",
    "Ticket",
    "TicketChange",
    "TicketMessage",
    "User",
    "Visitor",
    "generate_key",
    "hookimpl",
    "hookspec",
    "plugin_manager",
    "save_settings",
    "wake_workers",
]
