"""``manage.py hubspot_audit``: ``skypanel-hubspot audit`` on the panel's Django database."""

from skypanel_hubspot_plugin.django.commands import cli_command

Command = cli_command("audit")
