"""Starting and ending the test kit: :func:`hubspot_kit`, which the ``hubspot`` fixture uses.

Everything the kit changes in the process (the plugin's runtime, its clock, two
environment variables, a guard on the host's plugin manager) is put back on exit, so one
test's kit never leaks into the next.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pluggy
from sqlalchemy import Engine, create_engine, event

from skypanel_hubspot_plugin import plugin_manager as new_plugin_manager
from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.settings.secrets import KEYS_ENV, generate_key

from .fake_hubspot import FakeHubSpot
from .kit import HubSpotKit, StartupGuard
from .outbox_entries import KitRefusal

#: One kit at a time: the plugin's runtime, its clock and the environment are per process.
_in_use = threading.Lock()


def scratch_engine(path: str) -> Engine:
    """A SQLite database for one test, at ``path``: it never outlives the test, so commits
    skip waiting for the disk (``synchronous=OFF``), which is most of a test's time."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _fast(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    return engine


@contextmanager
def hubspot_kit(
    *,
    engine: Engine | None = None,
    plugin_manager: pluggy.PluginManager | None = None,
    settings: Mapping[str, object] | None = None,
    background_worker: bool = False,
    fake: FakeHubSpot | None = None,
    **host: Any,
) -> Iterator[HubSpotKit]:
    """The plugin started on ``engine`` (a temporary SQLite database by default) through
    ``plugin_manager`` (``skypanel_hubspot_plugin.plugin_manager()`` by default), against
    a fresh fake HubSpot (or ``fake``), enabled, with ``settings`` saved over the kit's;
    ``host`` adds HostContext fields (``list_users=...``). Everything is undone on exit:
    the plugin stopped, the clock and environment restored, the fake stopped."""
    if not _in_use.acquire(blocking=False):
        raise KitRefusal("Another HubSpot test kit is active in this process: end it first.")
    scratch = None
    own_fake = fake is None
    if engine is None:
        scratch = tempfile.mkdtemp(prefix="skypanel-hubspot-kit-")
        engine = scratch_engine(f"{scratch}/panel.sqlite3")
    pm = plugin_manager if plugin_manager is not None else new_plugin_manager()
    saved_env = {name: os.environ.get(name) for name in (runtime.BASE_URL_ENV, KEYS_ENV)}
    hubspot = fake if fake is not None else FakeHubSpot().start()
    guard: StartupGuard | None = None
    try:
        kit = HubSpotKit(hubspot, engine, pm, generate_key(), background_worker=background_worker)
        kit._settings.update(settings or {})
        os.environ[runtime.BASE_URL_ENV] = hubspot.base_url
        os.environ[KEYS_ENV] = kit.secret_key
        guard = StartupGuard(kit)
        pm.register(guard, name="skypanel-hubspot-test-kit")
        context = kit.host_context(settings_poll_interval=3600.0, hubspot_timeout=(2.0, 5.0))
        if host:
            context = replace(context, **host)
        pm.hook.skypanel_startup(host=context)
        kit._current_runtime()
        yield kit
    finally:
        try:
            pm.hook.skypanel_shutdown()
        finally:
            runtime.stop()
            if guard is not None:
                pm.unregister(guard)
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            clock.reset()
            if own_fake:
                hubspot.stop()
            if scratch is not None:
                engine.dispose()
                shutil.rmtree(scratch, ignore_errors=True)
            _in_use.release()
