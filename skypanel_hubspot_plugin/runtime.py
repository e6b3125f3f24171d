"""The plugin's state in one process, from the host's start-up hook to its shut-down hook.

Hooks reach the settings store and the HubSpot service through :func:`current`; nothing
here is built at import time, so loading the entry point touches no database or network.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from sqlalchemy import Engine

from skypanel_hubspot_plugin.audit.trail import AuditTrail
from skypanel_hubspot_plugin.common.scrub import install_log_filter, scrub
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.delivery.backfill import Backfills
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import NotConfigured, NotEnabled
from skypanel_hubspot_plugin.hubspot.service import DEFAULT_TIMEOUT, HubSpotService
from skypanel_hubspot_plugin.hubspot.versions import version_named as api_version_of
from skypanel_hubspot_plugin.page.chat_identity import IdentityTokens
from skypanel_hubspot_plugin.payloads import HostContext, ListUsers
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.settings.secrets import SecretBox
from skypanel_hubspot_plugin.settings.store import SettingsStore
from skypanel_hubspot_plugin.webhooks.conversation_poll import ConversationPoller
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller
from skypanel_hubspot_plugin.webhooks.receiver import (
    clear_problem,
    receiver_problem,
    record_problem,
    recorded_problem,
    wants_changes,
)

log = logging.getLogger(__name__)

BASE_URL_ENV = "SKYPANEL_HUBSPOT_BASE_URL"


class PluginNotStarted(RuntimeError):
    """No runtime: the host never fired ``skypanel_startup``, or the start-up failed.

    ``reason`` says which, for an admin (secrets scrubbed); never show it to the public."""

    def __init__(self, failure: str | None = None) -> None:
        self.reason = (
            f"The HubSpot plugin failed to start: {failure}"
            if failure
            else "The HubSpot plugin has not been started: the host must fire "
            "skypanel_startup(host=HostContext(engine=...)) first."
        )
        super().__init__(self.reason)


class Runtime:
    """Everything the plugin holds while the host runs."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        *,
        base_url: str | None = None,
        poll_interval: float = 2.0,
        lease_s: float = 60.0,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        list_users: ListUsers | None = None,
        plugin_manager: Any = None,
        api_version: str | None = None,
        public_base_url: str | None = None,
        ticket_poll_interval: float | None = None,
    ) -> None:
        self.timeout = timeout
        #: The host's or command line's version, ahead of the setting; checked at start-up.
        self.api_version_override = api_version_of(api_version).name if api_version else None
        self.public_base_url = (public_base_url or "").strip().rstrip("/") or None
        self.list_users = list_users
        self.plugin_manager = plugin_manager
        self.base_url = base_url or os.environ.get(BASE_URL_ENV) or api.DEFAULT_BASE_URL
        self.store = SettingsStore(engine, box, poll_interval=poll_interval)
        self.outbox = Outbox(engine, lease_s=lease_s)
        self.backfills = Backfills(engine)
        self.audit = AuditTrail(engine)
        self.identities = IdentityTokens(self.service)
        self.worker: Worker | None = None
        #: Finds ticket changes made in HubSpot when polling is the chosen way back; the
        #: worker runs it between batches.
        self.poller = TicketPoller(self, interval_s=ticket_poll_interval, lease_s=lease_s)
        #: Finds agents' replies and tickets opened in HubSpot, with either way back.
        self.conversations = ConversationPoller(
            self, interval_s=ticket_poll_interval, lease_s=lease_s
        )
        self._service_lock = threading.Lock()
        self._service: HubSpotService | None = None
        self._service_token: Secret | None = None
        self._service_version: str | None = None

    @classmethod
    def from_host(cls, host: HostContext, *, lease_s: float | None = None) -> Runtime:
        return cls(
            host.engine,
            SecretBox.from_config(host.secret_keys),
            base_url=host.hubspot_base_url,
            poll_interval=host.settings_poll_interval,
            lease_s=host.delivery_lease_s if lease_s is None else lease_s,
            timeout=host.hubspot_timeout,
            list_users=host.list_users,
            plugin_manager=host.plugin_manager,
            api_version=host.hubspot_api_version,
            public_base_url=host.public_base_url,
            ticket_poll_interval=host.ticket_poll_interval,
        )

    def __repr__(self) -> str:
        return f"Runtime(base_url={self.base_url!r}, store={self.store!r})"

    def start(self, *, run_worker: bool = True) -> None:
        install_log_filter()
        self.store.setup()
        self.store.start_watching()
        self.check_ticket_receiver()
        if run_worker:
            self.worker = Worker(self, periodic=[self.poller, self.conversations])
            self.worker.start_thread()

    def stop(self) -> None:
        self.poller.stop_event.set()
        self.conversations.stop_event.set()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.store.stop_watching()
        self.identities.close()

    def settings(self) -> HubSpotSettings:
        return self.store.current()

    def check_ticket_receiver(self) -> None:
        """At start-up: says once why ticket changes cannot reach the host while ticket
        sync is on, or clears what an earlier start recorded once they can."""
        problem = receiver_problem(self.plugin_manager)
        if problem is None:
            clear_problem(self.outbox.engine)
        elif wants_changes(self.settings()):
            log.error(
                "HubSpot ticket sync is on (%s), but no ticket change can reach the panel: "
                "%s. Until then webhooks answer 503 and polling waits.",
                self.settings().ticket_sync,
                problem,
            )
            record_problem(self.outbox.engine, problem)

    def ticket_sync_problem(self, *, live: bool = True) -> str | None:
        """Why ticket changes made in HubSpot cannot reach the host while ticket sync is
        on, or None. ``live`` asks this process's plugin manager too (not the command
        line's, which has none); the recorded reason covers other processes."""
        if not wants_changes(self.settings()):
            return None
        return (receiver_problem(self.plugin_manager) if live else None) or recorded_problem(
            self.outbox.engine
        )

    def api_version(self) -> str:
        """The HubSpot API version in use: the override, else the setting."""
        return self.api_version_override or self.settings().api_version

    def service(self, *, require_enabled: bool = True) -> HubSpotService:
        """A service for the saved token and version, rebuilt only when either changes."""
        settings = self.settings()
        if require_enabled and not settings.enabled:
            raise NotEnabled()
        if settings.token is None:
            raise NotConfigured(
                settings.problems.get("hubspot_api_key") or "No HubSpot access token is set"
            )
        version = self.api_version_override or settings.api_version
        with self._service_lock:
            if (
                self._service is None
                or self._service_token != settings.token
                or self._service_version != version
            ):
                self._service = HubSpotService(
                    settings.token,
                    base_url=self.base_url,
                    timeout=self.timeout,
                    api_version=version,
                    on_request=self.outbox.metrics.request if self.outbox.metrics.enabled else None,
                )
                self._service_token = settings.token
                self._service_version = version
                self.identities.clear()
            return self._service


_current: Runtime | None = None
_start_failure: str | None = None
_retry: _StartRetry | None = None
_lock = threading.Lock()

#: Seconds before a failed start is tried again, doubling up to RETRY_MAX_S.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


class _StartRetry:
    """Starts the plugin again in the background after a failed start, with backoff, until
    it starts or the host shuts down: a database that was locked, away or not yet
    migrated does not leave HubSpot off until the panel restarts."""

    def __init__(self, host: HostContext, reason: str) -> None:
        self.host = host
        self.reason = reason
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hubspot-start-retry", daemon=True)

    def _run(self) -> None:
        global _start_failure
        delay = RETRY_FIRST_S
        attempts = 1
        while not self.cancelled.wait(delay):
            attempts += 1
            try:
                runtime = _build(self.host)
            except Exception as exc:
                reason = scrub(f"{type(exc).__name__}: {exc}")
                level = logging.DEBUG if reason == self.reason else logging.WARNING
                log.log(
                    level, "HubSpot plugin still not started (attempt %d): %s", attempts, reason
                )
                with _lock:
                    if _retry is self:
                        _start_failure = self.reason = reason
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if not _install(runtime, self):
                runtime.stop()  # stopped or restarted meanwhile: this one is not wanted
                return
            log.warning("HubSpot plugin started on attempt %d", attempts)
            return


def _build(host: HostContext) -> Runtime:
    runtime = Runtime.from_host(host)
    try:
        runtime.start(run_worker=host.run_worker)
    except Exception:
        runtime.stop()
        raise
    return runtime


def _install(runtime: Runtime, retry: _StartRetry | None) -> bool:
    """Makes ``runtime`` the process's; a retry only while it is still the pending one."""
    global _current, _start_failure, _retry
    with _lock:
        if retry is not None and (_retry is not retry or retry.cancelled.is_set()):
            return False
        _start_failure = None
        _retry = None
        previous, _current = _current, runtime
    if previous is not None:
        previous.stop()
    return True


def _cancel_retry() -> None:
    global _retry
    with _lock:
        retry, _retry = _retry, None
    if retry is not None:
        retry.cancelled.set()


def start(host: HostContext) -> Runtime:
    """Builds and starts the process's runtime; a second start replaces the first.

    A start that raises is remembered (its reason, scrubbed of secrets), so every route
    can answer 503 saying why instead of failing on the missing runtime, and is tried
    again in the background (after 1 s, then doubling up to a minute) until it succeeds
    or :func:`stop` is called."""
    global _start_failure, _retry
    _cancel_retry()
    try:
        runtime = _build(host)
    except Exception as exc:
        retry = _StartRetry(host, scrub(f"{type(exc).__name__}: {exc}"))
        with _lock:
            _start_failure = retry.reason
            _retry = retry
        retry.thread.start()
        raise
    _install(runtime, None)
    return runtime


def stop() -> None:
    global _current, _start_failure
    _cancel_retry()
    with _lock:
        runtime, _current = _current, None
        _start_failure = None
    if runtime is not None:
        runtime.stop()


def current() -> Runtime:
    runtime = _current
    if runtime is None:
        raise PluginNotStarted(_start_failure)
    return runtime
