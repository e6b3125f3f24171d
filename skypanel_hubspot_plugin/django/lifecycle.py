"""Starting the plugin once per process, on first use rather than at import.

``AppConfig.ready()`` runs in every process that sets Django up: ``migrate``,
``makemigrations``, ``shell``, the autoreloader's parent process of ``runserver`` (which
serves nothing), a pre-forking server's master (whose threads do not survive the fork),
and test runs. Starting a delivery thread in each would be a surprise, and in a forked
server a broken one. So ``ready()`` only checks the configuration and asks for a start
on the process's first request; the template tags, the routes and the event helpers
start it too when they run first (without a worker thread outside a web request), and
``manage.py hubspot_worker`` runs delivery in a process of its own.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

import pluggy

from skypanel_hubspot_plugin import HostContext, runtime
from skypanel_hubspot_plugin import plugin_manager as new_plugin_manager
from skypanel_hubspot_plugin.django import config, database

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pm: pluggy.PluginManager | None = None
#: The process that fired the start-up, so a forked child starts its own.
_started_in: int | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager: installed plugins and the panel's own (``PLUGINS``)."""
    global _pm
    with _lock:
        if _pm is None:
            pm = new_plugin_manager()
            for spec in config.current().plugins:
                plugin = config.imported(spec, "plugins")
                if not pm.is_registered(plugin):
                    pm.register(plugin)
            _pm = pm
        return _pm


def host_context(*, run_worker: bool | None = None) -> HostContext:
    """The ``HostContext`` the settings describe, on the plugin's own engine."""
    cfg = config.current()
    return HostContext(
        engine=database.plugin_engine(cfg.database),
        secret_keys=cfg.secret_keys,
        hubspot_base_url=cfg.hubspot_base_url,
        run_worker=cfg.run_worker if run_worker is None else run_worker,
        list_users=config.callable_setting(cfg.users, "users"),
        plugin_manager=plugin_manager(),
        hubspot_api_version=cfg.api_version,
        public_base_url=cfg.public_base_url,
    )


def ensure_started(*, serving: bool = False) -> None:
    """Fires ``skypanel_startup`` unless this process did already, or someone else started
    the plugin (the host itself, or the test kit). ``serving``: called for a web request,
    so the settings' ``RUN_WORKER`` holds; otherwise no worker thread is started."""
    global _started_in
    pid = os.getpid()
    if _started_in == pid:
        return
    with _lock:
        if _started_in == pid:
            return
        forked = _started_in is not None
        try:
            runtime.current()
            if not forked:
                return  # started by the host's own code (or the test kit): theirs to run
        except runtime.PluginNotStarted:
            pass
        _started_in = pid
    if forked:
        database.dispose()  # the parent's connections are not this process's to use
    cfg = config.current()
    pm = plugin_manager()
    pm.hook.skypanel_startup(host=host_context(run_worker=cfg.run_worker and serving))


def stop() -> None:
    """Fires ``skypanel_shutdown`` if this process started the plugin; a later use starts
    it again."""
    global _started_in
    with _lock:
        started, _started_in = _started_in == os.getpid(), None
    if started:
        plugin_manager().hook.skypanel_shutdown()


def on_request_started(**_: Any) -> None:
    """``request_started`` receiver: the first request of a process starts the plugin."""
    ensure_started(serving=True)


atexit.register(stop)
