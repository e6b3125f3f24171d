"""A small hosting panel built with Flask and Flask-SQLAlchemy, adopting the HubSpot plugin
through its Flask extension, as a host would.

Run it with ``flask --app flask_panel.app run`` (from ``examples/flask_panel``); its tests,
in ``flask_panel_tests/``, are written with the plugin's test kit and Flask's test client.
"""
