"""A small hosting panel built with FastAPI, adopting the HubSpot plugin as a host would.

Run it with ``python -m example_panel`` (from ``examples/fastapi_panel``); its tests, in
``tests/``, are written with the plugin's test kit.
"""
