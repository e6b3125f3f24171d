"""The panel's public webhook route served over real HTTP on loopback, for the fake HubSpot to POST to."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pluggy
import uvicorn
from fastapi import FastAPI

from skypanel_hubspot_plugin.admin.fastapi_adapter import public_router


@contextmanager
def served_webhooks(pm: pluggy.PluginManager) -> Iterator[str]:
    """Serves the plugin's public routes on a free loopback port; yields the webhook URL."""
    app = FastAPI()
    app.include_router(public_router(pm))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/hubspot/webhooks"
    finally:
        server.should_exit = True
        thread.join(10)
