"""``manage.py hubspot_problems``: ``skypanel-hubspot problems`` on the panel's Django database."""

from skypanel_hubspot_plugin.django.commands import cli_command

Command = cli_command("problems")
