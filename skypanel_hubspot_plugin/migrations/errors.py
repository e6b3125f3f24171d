"""Why the plugin's tables could not be created or upgraded, in words an operator can act on."""

from __future__ import annotations


class SchemaBusy(RuntimeError):
    """Another transaction held the database for longer than start-up waits."""


class SettingsTableMismatch(RuntimeError):
    """The host has a ``settings`` table, but not one of ``key``, ``value``, ``description``."""
