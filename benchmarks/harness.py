"""What the benchmarks share: a started plugin on an engine, and a throw-away PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pluggy
from sqlalchemy import Engine, create_engine
from sqlalchemy.schema import CreateSchema, DropSchema

from skypanel_hubspot_plugin import HostContext, plugin_manager
from skypanel_hubspot_plugin.runtime import Runtime, current
from skypanel_hubspot_plugin.settings.secrets import generate_key
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def started_plugin(
    engine: Engine,
    base_url: str,
    *,
    key: str | None = None,
    host_plugins: Sequence[object] = (),
    **settings: Any,
) -> tuple[pluggy.PluginManager, Runtime]:
    """The plugin started through its hooks (no worker of its own), HubSpot enabled; with
    ``host_plugins``, the host's hook implementations registered on its plugin manager,
    which the plugin is given to fire what comes back from HubSpot."""
    pm = plugin_manager()
    for plugin in host_plugins:
        pm.register(plugin)
    pm.hook.skypanel_startup(
        host=HostContext(
            engine=engine,
            secret_keys=[key or generate_key()],
            hubspot_base_url=base_url,
            run_worker=False,
            plugin_manager=pm if host_plugins else None,
        )
    )
    rt = current()
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            **settings,
        }
    )
    return pm, rt


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """A URL on a fresh schema of the local PostgreSQL, dropped afterwards; None without one."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(CreateSchema(schema))
    except Exception as exc:
        print(f"PostgreSQL at {POSTGRES_URL} not reachable ({type(exc).__name__}): skipped")
        admin.dispose()
        yield None
        return
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(DropSchema(schema, cascade=True))
        admin.dispose()
