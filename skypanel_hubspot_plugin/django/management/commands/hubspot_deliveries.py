"""``manage.py hubspot_deliveries``: ``skypanel-hubspot deliveries`` on the panel's Django database."""

from skypanel_hubspot_plugin.django.commands import cli_command

Command = cli_command("deliveries")
