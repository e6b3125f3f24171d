"""The host developer's test kit: the plugin started for one test, against a fresh fake HubSpot.

Through pytest, the ``hubspot`` fixture (this package's pytest plugin); anywhere else,
the context manager (:mod:`.kit_start`)::

    with hubspot_kit(engine=engine, plugin_manager=pm) as kit:
        ...  # the panel does something
        sent = kit.drain()

The kit fires ``skypanel_startup`` on the host's plugin manager with no background
worker, the fake HubSpot as the API, a new encryption key, and the integration enabled
with the fake's portal, token and app secret. Nothing happens behind the test's back:
deliveries go when the test calls :meth:`HubSpotKit.drain`, polls when it calls
:meth:`HubSpotKit.poll`, time moves when it calls :meth:`HubSpotKit.advance`. HubSpot's
webhooks reach the panel in process, the moment the fake's ticket changes.

When the host's own application fires ``skypanel_startup`` (a FastAPI lifespan run by
``with TestClient(app)``), the kit keeps its promises: a context naming any HubSpot but
loopback is refused, one naming none gets the fake (``SKYPANEL_HUBSPOT_BASE_URL``) and the
kit's key (``SKYPANEL_HUBSPOT_SECRET_KEYS``), its background worker is stopped, and the
kit's settings are saved again under the keys it brought.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Generator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pluggy
from sqlalchemy import Engine
from sqlmodel import Session, col, func, or_, select

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.settings_routes import save_settings
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, QUEUED, OutboxRow
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import HostContext
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.webhooks.table import PollCursor

from .fake_hubspot import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from .fake_webhooks import FAKE_APP_SECRET
from .in_process import Send, to_app, to_handler
from .outbox_entries import (
    STATUS_WORDS,
    STATUSES,
    DeliveryParked,
    KitRefusal,
    OutboxEntry,
    WebhookRefused,
    entries,
)

#: The address the fake's webhooks are signed for; they reach the app in process.
WEBHOOK_URL = "http://testserver/api/hubspot/webhooks"
#: More claims than this in one drain means deliveries keep making deliveries.
MAX_ROUNDS = 1000
#: What the kit saves before a test starts: enabled, on the fake's portal, tickets on.
DEFAULT_SETTINGS: Mapping[str, object] = {
    "hubspot_enabled": True,
    "hubspot_portal_id": str(FAKE_PORTAL_ID),
    "hubspot_api_key": FAKE_TOKEN,
    "hubspot_ticket_enabled": True,
    "hubspot_app_secret": FAKE_APP_SECRET,
    "hubspot_webhook_url": WEBHOOK_URL,
    "hubspot_rate_limit": "1000",
}
ENABLE = "kit.configure(hubspot_enabled=True)"


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (the only HubSpot a test may talk to)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_real_hubspot(url: str, fake_url: str) -> KitRefusal:
    return KitRefusal(
        f"The HubSpot test kit refuses to start the plugin against {url}: a test never "
        f"talks to the real HubSpot. Leave HostContext.hubspot_base_url unset while the kit "
        f"is active (the plugin then uses the fake HubSpot at {fake_url}), or pass "
        f"hubspot_base_url=kit.fake.base_url."
    )


class StartupGuard:
    """Registered on the host's plugin manager while a kit is active: every start-up of the
    plugin, the kit's or the host application's, stays on the fake and under the kit."""

    def __init__(self, kit: HubSpotKit) -> None:
        self.kit = kit

    @hookimpl(wrapper=True)
    def skypanel_startup(self, host: HostContext) -> Generator[None, object, object]:
        url = host.hubspot_base_url or os.environ.get(runtime.BASE_URL_ENV) or ""
        if not is_loopback(url):
            raise refuse_real_hubspot(url or "the real HubSpot", self.kit.fake.base_url)
        result = yield
        self.kit._adopt()
        return result


class HubSpotKit:
    """The plugin, started for one test on the host's engine, and the fake HubSpot it talks to.

    Make one with :func:`hubspot_kit` or take the ``hubspot`` pytest fixture. ``fake`` is
    the :class:`FakeHubSpot` (its ``contacts()``, ``tickets()``, ``requests``, and its
    failure modes); ``engine`` and ``plugin_manager`` are what the host's app is built on.
    """

    def __init__(
        self,
        fake: FakeHubSpot,
        engine: Engine,
        plugin_manager: pluggy.PluginManager,
        secret_key: str,
        *,
        background_worker: bool = False,
    ) -> None:
        self.fake = fake
        self.engine = engine
        self.plugin_manager = plugin_manager
        self.secret_key = secret_key
        self.background_worker = background_worker
        self._settings: dict[str, object] = dict(DEFAULT_SETTINGS)
        self._runtime: runtime.Runtime | None = None
        self._worker: Worker | None = None
        self._send: Send = to_handler()
        self._settled_up_to = 0  # the newest outbox row a drain has reported on
        self._webhook_format = "legacy"

    def __repr__(self) -> str:
        return f"HubSpotKit(fake={self.fake.base_url!r}, engine={self.engine.url!r})"

    # -- the host's side -----------------------------------------------------------------------

    def host_context(self, **fields: Any) -> HostContext:
        """The HostContext for an app that fires ``skypanel_startup`` itself in a test: the
        kit's engine, key, fake HubSpot and plugin manager, no background worker; ``fields``
        add or replace any (``list_users=...``)."""
        values: dict[str, Any] = {
            "engine": self.engine,
            "secret_keys": (self.secret_key,),
            "hubspot_base_url": self.fake.base_url,
            "run_worker": self.background_worker,
            "plugin_manager": self.plugin_manager,
            **fields,
        }
        return HostContext(**values)

    def configure(self, **settings: object) -> HubSpotSettings:
        """Saves settings as the admin's settings form does (the keys of the settings
        table: ``hubspot_enabled=False``, ``hubspot_ticket_sync="polling"``); a value the form
        would refuse raises InvalidSettings naming the key. Returns the settings in force."""
        self._current_runtime()
        saved = save_settings(settings)
        self._settings.update(settings)
        self._subscribe(saved)
        return saved

    @property
    def settings(self) -> HubSpotSettings:
        """The settings in force."""
        return self._current_runtime().settings()

    # -- delivery ------------------------------------------------------------------------------

    def drain(self) -> list[OutboxEntry]:
        """Delivers every due delivery to the fake HubSpot, now, in this thread, and returns
        those delivered. Fails the test (:class:`DeliveryParked`) when one was parked, with
        its error. One that failed for now stays queued, due later: :meth:`advance`, then
        drain again."""
        rt = self._current_runtime()
        self._require_enabled("deliver")
        with Session(self.engine) as session:
            pending = set(session.exec(select(OutboxRow.id).where(col(OutboxRow.status) == QUEUED)))
        worker = self._delivery_worker(rt)
        for _ in range(MAX_ROUNDS):
            if worker.run_once() == 0:
                break
        else:
            raise AssertionError(f"drain(): still delivering after {MAX_ROUNDS} rounds")
        with Session(self.engine) as session:
            rows = list(
                session.exec(
                    select(OutboxRow)
                    .where(
                        or_(
                            col(OutboxRow.id).in_(pending),
                            col(OutboxRow.id) > self._settled_up_to,
                        ),
                        col(OutboxRow.status).in_((DELIVERED, DEAD)),
                    )
                    .order_by(col(OutboxRow.id))
                )
            )
            newest = session.exec(select(func.max(OutboxRow.id))).one()
        self._settled_up_to = max(self._settled_up_to, newest or 0)
        found = self._entries(rows)
        parked = [e for e in found if e.status == STATUS_WORDS[DEAD]]
        if parked:
            raise DeliveryParked(parked)
        return found

    def outbox(self, status: str | None = None) -> list[OutboxEntry]:
        """Every delivery the panel asked for, oldest first (or those of one ``status``:
        ``queued``, ``delivered`` or ``parked``)."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        self._current_runtime()
        query = select(OutboxRow).order_by(col(OutboxRow.id))
        if status is not None:
            stored = next(k for k, v in STATUS_WORDS.items() if v == status)
            query = query.where(col(OutboxRow.status) == stored)
        with Session(self.engine) as session:
            return self._entries(list(session.exec(query)))

    def replay(self, ids: Sequence[int] | None = None) -> int:
        """Queues parked deliveries again (all, or these ids), as the admin's Replay does;
        returns how many. :meth:`drain` then delivers them."""
        rt = self._current_runtime()
        return rt.outbox.replay(ids, rt.settings().contact_property_map)

    def advance(self, seconds: float) -> None:
        """Moves the plugin's clock (and the fake HubSpot's) forward: retries, polls and
        rate-limit windows come due without the test sleeping. Undone when the kit ends."""
        clock.advance(seconds)

    def sync_contacts(self) -> int:
        """Queues every panel user for HubSpot, as the admin's "Sync all contacts" does, in
        this thread; returns how many. :meth:`drain` then delivers them."""
        rt = self._current_runtime()
        self._require_enabled("sync contacts")
        if rt.list_users is None:
            raise KitRefusal(
                "The plugin was started without a way to list the panel's users, so it cannot "
                "sync them: pass list_users=... in the HostContext (with pytest, override the "
                "skypanel_host fixture to return {'list_users': your_lister})."
            )
        job = rt.backfills.start_or_resume()
        return rt.backfills.queue_all(job, rt.list_users)

    # -- HubSpot's side ------------------------------------------------------------------------

    def deliver_webhooks_to(self, app: Any) -> None:
        """Where the fake's webhooks go, in process: the host's ASGI or WSGI application
        (through its own routes and middleware), or None for the plugin's handler itself
        (the default)."""
        self._send = to_handler() if app is None else to_app(app)
        self._subscribe(self._current_runtime().settings())

    def use_webhook_format(self, format: str) -> None:
        """The format of the fake's webhooks: ``legacy`` (the default, ``ticket.*``) or
        ``generic`` (``object.*``), the one in which HubSpot also reports an agent's reply
        tied to a ticket, so replies reach the panel at once instead of at the next poll."""
        if format not in ("legacy", "generic"):
            raise ValueError("format must be legacy or generic")
        self._webhook_format = format
        self._subscribe(self._current_runtime().settings())

    def reply_as_agent(self, ticket_id: str, text: str, *, at_ms: int | None = None) -> str:
        """An agent answers the customer on a panel ticket's HubSpot ticket; returns the
        email's id. With generic-format webhooks the reply reaches the panel's
        ``skypanel_on_hubspot_ticket_message`` before this returns; otherwise at the next
        :meth:`poll_conversations`."""
        return self.fake.reply_as_agent(self.hubspot_ticket_id(ticket_id), text, at_ms=at_ms)

    def add_internal_note(self, ticket_id: str, text: str, *, at_ms: int | None = None) -> str:
        """An agent notes something on a panel ticket's HubSpot ticket for colleagues (it
        never reaches the panel's customer); returns the note's id."""
        return self.fake.add_internal_note(self.hubspot_ticket_id(ticket_id), text, at_ms=at_ms)

    def open_ticket_in_hubspot(
        self, contact_email: str, subject: str, text: str = "", *, pipeline: str = "0"
    ) -> str:
        """An agent opens a ticket in HubSpot for the contact with ``contact_email`` (a chat
        or an email turned into a ticket); returns HubSpot's ticket id. With tickets brought
        in (``hubspot_import_hubspot_tickets``), webhooks offer it to the panel's
        ``skypanel_on_hubspot_ticket_created`` before this returns; polling at the next
        :meth:`poll_conversations`."""
        return self.fake.open_ticket_as_agent(contact_email, subject, text, pipeline=pipeline)

    def poll_conversations(self) -> int:
        """Polls HubSpot once, now, for agents' replies and tickets opened in HubSpot (with
        ticket sync by polling or by webhooks); returns how many reached the panel."""
        rt = self._current_runtime()
        settings = self._require_enabled("poll")
        if settings.ticket_sync == "off" or not settings.ticket_enabled:
            raise KitRefusal(
                "Nothing comes back from HubSpot while ticket support or ticket sync is off: "
                'kit.configure(hubspot_ticket_sync="polling", hubspot_ticket_enabled=True)'
            )
        poller = rt.conversations
        now = clock.now()
        due = now + (poller.seconds_until_due() or 0.0)
        with Session(self.engine) as session:
            lease = session.get(PollCursor, "conversation")
            if lease is not None:
                due = max(due, lease.last_poll_at + poller.interval(settings), lease.lease_until)
        if due > now:
            clock.advance(due - now + 0.001)
        return poller.poll_if_due()

    def hubspot_ticket_id(self, ticket_id: str) -> str:
        """The HubSpot ticket a panel ticket became; fails naming the fix when none yet."""
        linked = self._current_runtime().outbox.link("ticket", str(ticket_id))
        if linked is None:
            raise KitRefusal(
                f"Panel ticket {ticket_id} has no HubSpot ticket yet: "
                + self._why_not_in_hubspot(f"ticket:{ticket_id}")
            )
        return linked

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        """The fake HubSpot's ticket for a panel ticket: ``{"id", "properties", ...}``."""
        hubspot_id = self.hubspot_ticket_id(ticket_id)
        return next(t for t in self.fake.tickets() if t["id"] == hubspot_id)

    def contact(self, email: str) -> dict[str, Any]:
        """The fake HubSpot's contact with this email; fails naming the fix when none."""
        found = self.fake.contact_by_email(email)
        if found is None:
            raise KitRefusal(
                f"HubSpot has no contact {email}: " + self._why_not_in_hubspot(None, email)
            )
        return found

    def change_ticket_in_hubspot(self, ticket_id: str, properties: Mapping[str, str]) -> None:
        """Changes a panel ticket's HubSpot ticket as an agent would. With ticket sync by
        webhooks, the signed webhook reaches the panel before this returns; by polling, the
        next :meth:`poll` finds the change."""
        self.fake.change_ticket(self.hubspot_ticket_id(ticket_id), dict(properties))

    def close_ticket_in_hubspot(self, ticket_id: str) -> None:
        """Moves a panel ticket's HubSpot ticket to the stage the settings map ``closed`` to."""
        stage = self.settings.ticket_status_stages.get("closed")
        if not stage:
            raise KitRefusal(
                "No HubSpot stage is mapped to the panel status closed: "
                'kit.configure(hubspot_ticket_status_stages={"closed": "<stage id>", ...})'
            )
        self.change_ticket_in_hubspot(ticket_id, {"hs_pipeline_stage": stage})

    def poll(self) -> int:
        """Polls HubSpot for changed tickets once, now, in this thread (moving the clock to
        when the poll is due); returns how many changes reached the panel's hook."""
        rt = self._current_runtime()
        settings = self._require_enabled("poll")
        if settings.ticket_sync != "polling" or not settings.ticket_enabled:
            raise KitRefusal(
                f"Ticket changes come back by {settings.ticket_sync}, not polling"
                + ("" if settings.ticket_enabled else ", and tickets are off")
                + ': kit.configure(hubspot_ticket_sync="polling", hubspot_ticket_enabled=True)'
            )
        self._require_ticket_hook(rt)
        now = clock.now()
        due = now + (rt.poller.seconds_until_due() or 0.0)
        with Session(self.engine) as session:
            cursor = session.get(PollCursor, "tickets")
            if cursor is not None:
                interval = rt.poller.interval(settings)
                due = max(due, cursor.last_poll_at + interval, cursor.lease_until)
        if due > now:
            clock.advance(due - now + 0.001)
        return rt.poller.poll_if_due()

    # -- inside --------------------------------------------------------------------------------

    def _current_runtime(self) -> runtime.Runtime:
        """The plugin's runtime, adopted if the host's app restarted it; never a real HubSpot."""
        rt = runtime.current()
        if rt is not self._runtime:
            self._adopt()
        return rt

    def _adopt(self) -> None:
        """Takes over a runtime the host's application started: no worker of its own unless
        asked for, the kit's settings saved again (under the keys it was given)."""
        try:
            rt = runtime.current()
        except runtime.PluginNotStarted as exc:
            raise KitRefusal(
                f"{exc.reason} Is the HubSpot plugin registered on the plugin manager? Build it "
                "with skypanel_hubspot_plugin.plugin_manager(), which loads installed plugins."
            ) from None
        if not is_loopback(rt.base_url):
            raise refuse_real_hubspot(rt.base_url, self.fake.base_url)
        if rt is self._runtime:
            return
        if rt.worker is not None and not self.background_worker:
            rt.worker.stop()
            rt.worker = None
        self._runtime = rt
        self._worker = None
        self._subscribe(save_settings(self._settings))

    def _delivery_worker(self, rt: runtime.Runtime) -> Worker:
        if self._worker is None:
            self._worker = Worker(rt)
        return self._worker

    def _subscribe(self, settings: HubSpotSettings) -> None:
        """The fake sends webhooks only when the panel takes them (as an app's subscription)."""
        if settings.ticket_sync == "webhooks" and settings.app_secret is not None:
            self.fake.subscribe_webhooks(
                settings.webhook_url or WEBHOOK_URL,
                settings.app_secret.reveal(),
                format=self._webhook_format,
                transport=self._deliver_webhook,
            )
        else:
            self.fake.unsubscribe_webhooks()

    def _deliver_webhook(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self._require_ticket_hook(self._current_runtime())
        status, answer = self._send(url, body, headers)
        if status >= 300:
            raise WebhookRefused(f"The panel answered HubSpot's webhook with {status}: {answer}")
        return status

    def _require_enabled(self, doing: str) -> HubSpotSettings:
        settings = self._current_runtime().settings()
        if not settings.enabled:
            raise KitRefusal(
                f"The HubSpot integration is disabled, so there is nothing to {doing}: "
                f"call {ENABLE} (the setting hubspot_enabled)."
            )
        if settings.token is None:
            problem = settings.problems.get("hubspot_api_key", "no access token is saved")
            raise KitRefusal(
                f"HubSpot has no usable access token ({problem}): "
                f"kit.configure(hubspot_api_key=FAKE_TOKEN)."
            )
        return settings

    @staticmethod
    def _require_ticket_hook(rt: runtime.Runtime) -> None:
        pm = rt.plugin_manager
        if pm is None:
            raise KitRefusal(
                "The plugin was started without the host's plugin manager, so ticket changes "
                "made in HubSpot reach nobody: pass plugin_manager=pm in the HostContext given "
                "to skypanel_startup."
            )
        if not pm.hook.skypanel_on_hubspot_ticket_changed.get_hookimpls():
            raise KitRefusal(
                "No skypanel_on_hubspot_ticket_changed is registered on the plugin manager, so "
                "ticket changes made in HubSpot reach nobody: register the panel's "
                "implementation with pm.register(...)."
            )

    def _why_not_in_hubspot(self, record: str | None, email: str | None = None) -> str:
        settings = self._current_runtime().settings()
        if not settings.enabled:
            return f"the HubSpot integration is disabled; call {ENABLE}."
        mine = [
            e
            for e in self.outbox()
            if e.status != "delivered"
            and (record is None or e.record == record)
            and (email is None or email in str(e.payload))
        ]
        queued = [e for e in mine if e.status == "queued"]
        parked = [e for e in mine if e.status == "parked"]
        if parked:
            return f"its delivery was parked ({parked[0]}); kit.replay() then kit.drain()."
        if queued:
            return f"its delivery is queued ({queued[0]}); call kit.drain() first."
        return "the panel never asked for it (was the plugin's event hook fired?)."

    def _entries(self, rows: list[OutboxRow]) -> list[OutboxEntry]:
        outbox = self._current_runtime().outbox
        return entries(rows, outbox.waiting_for(rows), clock.utcnow(), outbox.paused_until())
