"""A small hosting panel built with Starlette alone (no FastAPI), adopting the HubSpot plugin
through its Starlette routes, as a host would. Its tests, in ``starlette_panel_tests/``,
are written with the plugin's test kit and Starlette's test client."""
