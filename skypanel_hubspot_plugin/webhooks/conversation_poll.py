"""Agents' replies and tickets opened in HubSpot, found by polling HubSpot's CRM search.

Runs in the delivery worker next to the ticket poller, once an interval
(``hubspot_ticket_poll_interval``), with ticket sync by polling and by webhooks alike:
HubSpot sends the association events that make replies and new tickets arrive at once only
to apps in its generic webhook format, and a missed webhook is never sent again, so the
poll is what guarantees they arrive. What both find reaches the host once (see
:mod:`.replies` and :mod:`.born_tickets`).

Each poll reads, from a durable cursor (a window behind it, as HubSpot's search index lags
writes):

- replies: the outgoing emails changed since (one search per page of 100), and for the
  ones not handed on yet, the tickets they are associated with (one batch read of
  associations per page); each reply of a panel ticket reaches the host in the order of
  the ticket's timeline (``hs_timestamp``, then id). A reply whose hook raises ends the
  poll there, the cursor unmoved: the next poll starts with it again.
- with ``hubspot_import_hubspot_tickets``: the tickets of the chosen pipelines without
  ``skypanel_ticket_id`` changed since, and their contacts (one batch read per page).

Several workers take turns through a lease on the ``conversation`` cursor row; every request
takes a slot of the rate budget all workers share.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from skypanel_hubspot_plugin.common import clock as plugin_clock
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot import conversation_reads as reads
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.hubspot.service import CrmObject, HubSpotService
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.webhooks import born_tickets, replies
from skypanel_hubspot_plugin.webhooks.links import panel_ticket_of
from skypanel_hubspot_plugin.webhooks.poll_cursor import claim_poll, cursor_row, release_poll
from skypanel_hubspot_plugin.webhooks.polling import (
    OVERLAP_S,
    SEARCH_PER_SECOND,
    SKEW_S,
    PollContext,
    modified_ms,
)
from skypanel_hubspot_plugin.webhooks.search_turns import SEARCH_TURNS
from skypanel_hubspot_plugin.webhooks.table import PollCursor

log = logging.getLogger(__name__)

LEASE = "conversation"
REPLIES = "ticket_replies"
BORN = "born_tickets"
PAGE_SIZE = 100
#: Pages one poll reads per kind at most; what is left goes to the next poll.
MAX_PAGES = 10
#: Seconds between two searches of the process (the ticket poller's pace: HubSpot allows 4
#: search requests a second per token).
SEARCH_SPACING_S = 1.0 / SEARCH_PER_SECOND


class ConversationPoller:
    """Polls HubSpot for agents' replies and new tickets when ticket sync is on."""

    def __init__(
        self,
        runtime: PollContext,
        *,
        interval_s: float | None = None,
        overlap_s: float = OVERLAP_S,
        lease_s: float = 120.0,
        clock: Callable[[], float] = plugin_clock.now,
        page_size: int = PAGE_SIZE,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.runtime = runtime
        self.interval_s = interval_s
        self.overlap_ms = int(overlap_s * 1000)
        self.lease_s = lease_s
        self.clock = clock
        self.page_size = page_size
        self.max_pages = max_pages
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.limiter = SharedRateLimit(runtime.outbox.engine, lambda: runtime.settings().rate_limit)
        self._next_check = 0.0

    def __repr__(self) -> str:
        return f"ConversationPoller(owner={self.owner!r})"

    @property
    def engine(self) -> Any:
        return self.runtime.outbox.engine

    def wants_replies(self, settings: HubSpotSettings) -> bool:
        return replies.has_message_hook(self.runtime.plugin_manager)

    def wants_tickets(self, settings: HubSpotSettings) -> bool:
        return settings.imports_tickets and born_tickets.has_created_hook(
            self.runtime.plugin_manager
        )

    def active(self, settings: HubSpotSettings) -> bool:
        return (
            settings.enabled
            and settings.ticket_enabled
            and settings.ticket_sync != "off"
            and settings.token is not None
            and (self.wants_replies(settings) or self.wants_tickets(settings))
        )

    def interval(self, settings: HubSpotSettings) -> float:
        return self.interval_s if self.interval_s is not None else settings.ticket_poll_interval

    # -- when -----------------------------------------------------------------------------

    def seconds_until_due(self) -> float | None:
        if not self.active(self.runtime.settings()):
            return None
        return max(0.0, self._next_check - self.clock())

    def run_if_due(self) -> int:
        """The worker's call between batches."""
        return self.poll_if_due()

    def poll_if_due(self) -> int:
        """Polls when due and no other worker polled within the interval; returns how many
        replies and tickets reached the host."""
        settings = self.runtime.settings()
        now = self.clock()
        if not self.active(settings) or now < self._next_check:
            return 0
        interval = self.interval(settings)
        self._next_check = now + interval
        cursor_row(self.engine, LEASE, now)
        if not claim_poll(self.engine, LEASE, now, interval, self.lease_s, self.owner):
            return 0
        try:
            service = self.runtime.service()
            handed = 0
            if self.wants_replies(settings):
                handed += self._poll(REPLIES, now, lambda s, a: self._replies(service, s, a))
            if self.wants_tickets(settings):
                handed += self._poll(BORN, now, lambda s, a: self._tickets(service, settings, s, a))
            return handed
        finally:
            release_poll(self.engine, LEASE, self.owner)

    def _advance(self, name: str, to_ms: int) -> None:
        with Session(self.engine) as session:
            session.exec(
                update(PollCursor)
                .where(col(PollCursor.name) == name, col(PollCursor.modified_ms) < to_ms)
                .values(modified_ms=to_ms)
            )
            session.commit()

    def _request(self) -> bool:
        """Waits for the search spacing and a slot of the shared rate budget; False when
        the worker is stopping."""
        wait = SEARCH_TURNS.wait_s(SEARCH_SPACING_S)
        if wait > 0 and self.stop_event.wait(wait):
            return False
        SEARCH_TURNS.take()
        return self.limiter.acquire(self.stop_event) is not None

    # -- what -----------------------------------------------------------------------------

    #: ``read_page(since_ms, after)`` → (handed on, the page's newest modification time
    #: or None when the poll must end here, HubSpot's next-page cursor).
    ReadPage = Callable[[int, str | None], tuple[int, int | None, str | None]]

    def _poll(self, name: str, now: float, read_page: ReadPage) -> int:
        cursor = cursor_row(self.engine, name, now)
        latest = int((self.clock() + SKEW_S) * 1000)
        since = max(0, min(cursor.modified_ms, latest) - self.overlap_ms)
        handed, after = 0, None
        for _ in range(self.max_pages):
            if not self._request():
                break
            try:
                count, newest, after = read_page(since, after)
            except HubSpotError as exc:
                log.warning("Polling HubSpot for ticket %s failed: %s", name, exc.message)
                break
            handed += count
            if newest is None:
                break
            self._advance(name, min(newest, latest))
            if after is None:
                break
        return handed

    @staticmethod
    def _newest(records: list[CrmObject]) -> int:
        times = [
            t
            for r in records
            if (t := modified_ms(_text(r.properties.get(api.TICKET_MODIFIED)) or None))
        ]
        return max(times, default=0)

    def _replies(
        self, service: HubSpotService, since: int, after: str | None
    ) -> tuple[int, int | None, str | None]:
        page = reads.search_outgoing_emails(service, since, limit=self.page_size, after=after)
        found = [r for e in page.results if (r := replies.read_reply(e)) is not None]
        handled = replies.already_handled(self.engine, [r.email_id for r in found])
        new = [r for r in found if r.email_id not in handled]
        tickets: dict[str, list[str]] = {}
        if new:
            if not self._request():
                return 0, None, None
            tickets = reads.associated_ids(
                service, reads.EMAILS, api.TICKETS, [r.email_id for r in new]
            )
        handed = 0
        pm = self.runtime.plugin_manager
        for reply in sorted(new, key=lambda r: r.order):
            target = self._panel_ticket(tickets.get(reply.email_id, []))
            if target is None:
                continue  # not on a ticket the panel knows
            try:
                handed += replies.hand_on(self.engine, pm, reply, *target)
            except Exception:
                log.exception(
                    "The panel's %s failed for HubSpot reply %s; it comes again at the next poll",
                    replies.MESSAGE_HOOK,
                    reply.email_id,
                )
                return handed, None, None
        return handed, self._newest(page.results), page.after

    def _panel_ticket(self, hubspot_ids: list[str]) -> tuple[str, str] | None:
        with Session(self.engine) as session:
            for hubspot_id in sorted(set(hubspot_ids), key=lambda i: (len(i), i)):
                panel_id = panel_ticket_of(session, hubspot_id)
                if panel_id is not None:
                    return panel_id, hubspot_id
        return None

    def _tickets(
        self, service: HubSpotService, settings: HubSpotSettings, since: int, after: str | None
    ) -> tuple[int, int | None, str | None]:
        page = reads.search_tickets_without_panel_id(
            service, since, settings.import_pipeline_ids, limit=self.page_size, after=after
        )
        candidates = [t for t in page.results if born_tickets.wanted(settings, t)]
        contacts: dict[str, list[str]] = {}
        if candidates:
            if not self._request():
                return 0, None, None
            contacts = reads.associated_ids(
                service, api.TICKETS, api.CONTACTS, [t.id for t in candidates]
            )
        handed = 0
        for ticket in candidates:
            try:
                handed += born_tickets.offer(
                    self.runtime.outbox,
                    self.runtime.plugin_manager,
                    settings,
                    ticket,
                    contacts.get(ticket.id, []),
                    lambda contact_id: contact_email(service, contact_id),
                )
            except HubSpotError:
                raise
            except Exception:
                log.exception(
                    "The panel's %s failed for HubSpot ticket %s; it is offered again at the "
                    "next poll",
                    born_tickets.CREATED_HOOK,
                    ticket.id,
                )
                return handed, None, None
        return handed, self._newest(page.results), page.after


def contact_email(service: HubSpotService, contact_id: str) -> str:
    """A contact's address, for the ticket offered to the host ("" when it has none)."""
    found = reads.get_record(service, api.CONTACTS, contact_id, ("email",))
    return _text(found.properties.get("email")) if found is not None else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
