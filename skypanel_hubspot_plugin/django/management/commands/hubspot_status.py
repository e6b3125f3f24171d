"""``manage.py hubspot_status``: ``skypanel-hubspot status`` on the panel's Django database."""

from skypanel_hubspot_plugin.django.commands import cli_command

Command = cli_command("status")
