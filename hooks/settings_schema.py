"""The settings form's fields, for a host that renders them without knowing HubSpot."""

from __future__ import annotations

from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import SettingField
from skypanel_hubspot_plugin.settings.schema import FIELDS


@hookimpl
def skypanel_settings_schema() -> list[SettingField]:
    return list(FIELDS)
