"""``flask --app flask_host_app`` for command tests: the test panel, configured from the
environment the test gives the process."""

from __future__ import annotations

import os

from flask_host import create_app

app, hubspot = create_app(
    os.environ["PANEL_DATABASE_URL"],
    os.environ["PANEL_SECRET_KEY"],
    os.environ["PANEL_HUBSPOT_URL"],
)
