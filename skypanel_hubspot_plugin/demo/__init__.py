"""A small but real panel host for trying the plugin: ``python -m skypanel_hubspot_plugin.demo``.

It plays the part of a hosting panel on 127.0.0.1: SQLite, an admin login, a customer
sign-up and support tickets that fire the plugin's hooks, pages whose ``<head>`` carries
what ``skypanel_page_head`` returns, and an admin settings page rendered from
``skypanel_settings_schema``. The plugin is loaded through its entry point, as any host
would load it; the demo knows nothing about HubSpot's fields. Unless pointed at a real
HubSpot, it runs against the built-in fake on loopback.

The browser test (``tests/test_demo_browser.py``) drives it the way an admin and a
customer would.
"""
