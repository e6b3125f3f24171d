"""Jinja2 templates shipped inside the wheel as ``skypanel_hubspot_plugin.templates``."""
