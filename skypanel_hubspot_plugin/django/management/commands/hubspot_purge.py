"""``manage.py hubspot_purge``: ``skypanel-hubspot purge`` on the panel's Django database."""

from skypanel_hubspot_plugin.django.commands import cli_command

Command = cli_command("purge")
