"""``manage.py hubspot_sync_contacts``: ``skypanel-hubspot sync-contacts`` on the panel's Django database."""

from skypanel_hubspot_plugin.django.commands import cli_command

Command = cli_command("sync-contacts")
