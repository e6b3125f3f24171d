"""``python -m skypanel_hubspot_plugin.testing``: the fake HubSpot as a server."""

from .fake_server import main

raise SystemExit(main())
