"""Ticket changes made in HubSpot, found by polling its CRM search instead of webhooks.

For credentials that have no webhooks (HubSpot's Service Keys) and panels HubSpot cannot
reach (NAT, firewalls): the delivery worker calls :meth:`TicketPoller.poll_if_due` between
batches, and once every interval (``hubspot_ticket_poll_interval``) one worker asks HubSpot
for the tickets the plugin created (``skypanel_ticket_id`` set) changed since a durable
cursor. Each change reaches the host's ``skypanel_on_hubspot_ticket_changed`` once:

- HubSpot's search index lags writes by seconds, so each poll re-reads a window
  (``overlap_s``) behind the cursor; what was already handed on is recognised by the
  ticket's last polled version (``hubspot_polled_tickets``) and dropped.
- The polled version, the cursor and the host's changes commit in one transaction, the
  session handed to the hook: a worker killed mid-poll hands on nothing twice, and the
  next poll finds what it did not finish. Several workers take turns through a lease on
  the cursor row and a compare-and-set on each ticket's polled version.
- The plugin's own writes coming back are not handed on: a property whose new value the
  plugin wrote since the version last seen (or may be writing now) is left out; a ticket
  seen for the first time is compared with what the plugin sent (see :mod:`.echo`).
- Each search request takes a slot of the rate budget every worker shares, and requests
  are spaced to stay under the search endpoint's own limit (HubSpot: 4 a second per token).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from skypanel_hubspot_plugin.common import clock as plugin_clock
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.hubspot.service import CrmObject, HubSpotService
from skypanel_hubspot_plugin.mapping.ticket_fields import status_of_stage
from skypanel_hubspot_plugin.payloads import TicketChange
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.webhooks.echo import panel_writes
from skypanel_hubspot_plugin.webhooks.events import fire
from skypanel_hubspot_plugin.webhooks.links import panel_ticket_of
from skypanel_hubspot_plugin.webhooks.poll_cursor import claim_poll, cursor_row, release_poll
from skypanel_hubspot_plugin.webhooks.receiver import (
    NoReceiver,
    clear_problem,
    receiver_problem,
    record_problem,
)
from skypanel_hubspot_plugin.webhooks.search_turns import SEARCH_TURNS
from skypanel_hubspot_plugin.webhooks.table import PollCursor, PolledTicket
from skypanel_hubspot_plugin.webhooks.told import TRACKED, poll_record, read

log = logging.getLogger(__name__)

CURSOR = "tickets"
#: Search requests a second a poll makes at most: HubSpot allows 4 per token, and one less
#: leaves room for the requests' arrival jitter (two sent 1/3 s apart may land closer).
SEARCH_PER_SECOND = 3.0
#: How far behind the cursor each poll reads again: longer than HubSpot's index lag.
OVERLAP_S = 120.0
#: Results one search query may page through (HubSpot's limit is 10,000).
MAX_RESULTS_PER_QUERY = 10_000
PAGE_SIZE = 100
#: One poll's budget: searches, and seconds; what is left goes to the next poll.
MAX_PAGES = 20
MAX_POLL_S = 30.0
#: How far ahead of this clock HubSpot's may be; later modification times are refused.
SKEW_S = 300.0
#: Skipped results remembered so each is logged once (bounded, like everything here).
MAX_REPORTED = 1000


@dataclass
class _Run:
    """A poll under way: its query's start, HubSpot's paging cursor, what it has read."""

    since: int
    started: float
    after: str | None = None
    read: int = 0
    pages: int = 0


class PollContext(Protocol):
    """What polling needs from the runtime: settings, a service, the outbox, the hook."""

    @property
    def outbox(self) -> Outbox: ...

    @property
    def plugin_manager(self) -> Any: ...

    def settings(self) -> HubSpotSettings: ...

    def service(self) -> HubSpotService: ...


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def modified_ms(value: str | None) -> int | None:
    """``hs_lastmodifieddate`` (ISO text, or epoch milliseconds) as epoch milliseconds."""
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # HubSpot's times are UTC
        # Whole milliseconds, exactly (a float's ``timestamp() * 1000`` can fall 1 ms short).
        return (moment - EPOCH) // timedelta(milliseconds=1)
    except (ValueError, OverflowError):
        return None


class TicketPoller:
    """Polls HubSpot for changed tickets when polling is the chosen way back and it is due.

    ``interval_s`` overrides the setting (the worker command's ``--poll-interval``);
    ``lease_s`` is how long a poll stays with a worker that may have died before another
    polls; ``clock`` gives epoch seconds.
    """

    def __init__(
        self,
        runtime: PollContext,
        *,
        interval_s: float | None = None,
        overlap_s: float = OVERLAP_S,
        lease_s: float = 120.0,
        search_per_second: float = SEARCH_PER_SECOND,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] = plugin_clock.now,
        max_pages: int = MAX_PAGES,
        max_poll_s: float = MAX_POLL_S,
        skew_s: float = SKEW_S,
    ) -> None:
        self.runtime = runtime
        self.interval_s = interval_s
        self.overlap_ms = int(overlap_s * 1000)
        self.lease_s = lease_s
        self.spacing_s = 1.0 / search_per_second
        self.page_size = page_size
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.limiter = SharedRateLimit(runtime.outbox.engine, lambda: runtime.settings().rate_limit)
        self._next_check = 0.0
        self.max_pages = max_pages
        self.max_poll_s = max_poll_s
        self.skew_s = skew_s
        #: The poll under way, read a page at a time.
        self._run: _Run | None = None
        #: What was logged already (receiver problems, skipped results), logged once each.
        self._reported: set[object] = set()

    def __repr__(self) -> str:
        return f"TicketPoller(owner={self.owner!r})"

    @property
    def engine(self) -> Any:
        return self.runtime.outbox.engine

    def active(self, settings: HubSpotSettings) -> bool:
        return (
            settings.enabled
            and settings.ticket_enabled
            and settings.ticket_sync == "polling"
            and settings.token is not None
        )

    def interval(self, settings: HubSpotSettings) -> float:
        return self.interval_s if self.interval_s is not None else settings.ticket_poll_interval

    # -- when -----------------------------------------------------------------------------

    def run_if_due(self) -> int:
        """The worker's call between batches: starts a poll when one is due, then reads at
        most one page per call, so delivery waits for one search, never a whole poll."""
        if self._run is None and not self._start_if_due():
            return 0
        if self._search_wait() > 0:
            return 0
        return self._step()

    def seconds_until_due(self) -> float | None:
        """When the worker should next call :meth:`run_if_due`; None while polling is off."""
        if not self.active(self.runtime.settings()):
            return None
        if self._run is not None:
            return self._search_wait()
        return max(0.0, self._next_check - self.clock())

    def poll_if_due(self) -> int:
        """Polls when polling is on and no worker polled within the interval, to the end of
        the poll (at most ``max_pages`` searches and ``max_poll_s``); returns how many
        changes reached the host. Cheap when not due: no query until it may be."""
        if self._run is None and not self._start_if_due():
            return 0
        fired = 0
        while self._run is not None:
            wait = self._search_wait()
            if wait > 0 and self.stop_event.wait(wait):
                self._finish()
                break
            fired += self._step()
        return fired

    def _start_if_due(self) -> bool:
        """Claims this interval's poll when it is due; False when not (or not ours)."""
        settings = self.runtime.settings()
        now = self.clock()
        if not self.active(settings) or now < self._next_check:
            return False
        interval = self.interval(settings)
        problem = receiver_problem(self.runtime.plugin_manager)
        if problem is not None:
            # Handing changes to nobody would lose them: the cursor stays until fixed.
            self._next_check = now + interval
            record_problem(self.engine, problem)
            if problem not in self._reported:
                self._reported.add(problem)
                log.error(
                    "Polling HubSpot for ticket changes waits until this is fixed: %s", problem
                )
            return False
        cursor = cursor_row(self.engine, CURSOR, now)
        due_at = max(cursor.last_poll_at + interval, cursor.lease_until)
        if now < due_at:
            self._next_check = min(due_at, now + interval)
            return False
        if not claim_poll(self.engine, CURSOR, now, interval, self.lease_s, self.owner):
            self._next_check = now + min(1.0, interval)
            return False
        self._next_check = now + interval
        since = max(0, min(cursor.modified_ms, self._latest_ms()) - self.overlap_ms)
        self._run = _Run(since=since, started=time.monotonic())
        return True

    def _latest_ms(self) -> int:
        """The newest modification time believed: now plus a small skew. Anything later is
        HubSpot's (or a forger's) error, and would stop polling for good as a cursor."""
        return int((self.clock() + self.skew_s) * 1000)

    def _search_wait(self) -> float:
        """Seconds before the search endpoint's spacing allows the next request."""
        return SEARCH_TURNS.wait_s(self.spacing_s)

    def _renew(self) -> bool:
        with Session(self.engine) as session:
            result = session.exec(
                update(PollCursor)
                .where(col(PollCursor.name) == CURSOR, col(PollCursor.lease_owner) == self.owner)
                .values(lease_until=self.clock() + self.lease_s)
            )
            session.commit()
            return bool(result.rowcount == 1)

    # -- what -----------------------------------------------------------------------------

    def _step(self) -> int:
        """Reads and hands on one page of the poll under way; ends the poll at its last
        page, its page or time budget, a failed search, or when told to stop."""
        run = self._run
        assert run is not None
        if self.stop_event.is_set():
            self._finish()
            return 0
        if run.pages >= self.max_pages or time.monotonic() - run.started > self.max_poll_s:
            log.info("Polling HubSpot: a poll ends after %d searches; the next goes on", run.pages)
            self._finish(completed=True)
            return 0
        settings = self.runtime.settings()
        with self.limiter.calls(self.stop_event) as allowed:
            if not allowed:
                self._finish()
                return 0
            SEARCH_TURNS.take()
            run.pages += 1
            try:
                page = self.runtime.service().search_tickets_modified_since(
                    run.since,
                    (*TRACKED, api.TICKET_MODIFIED, api.TICKET_ID_PROPERTY),
                    has_property=api.TICKET_ID_PROPERTY,
                    limit=self.page_size,
                    after=run.after,
                )
            except HubSpotError as exc:
                log.warning("Polling HubSpot for ticket changes failed: %s", exc.message)
                self._finish()
                return 0
        fired = 0
        newest = run.since
        latest = self._latest_ms()
        try:
            for ticket in page.results:
                changed_at = self._readable(ticket, latest)
                if changed_at is None:
                    continue
                newest = max(newest, changed_at)
                fired += self._handle(ticket, changed_at, settings)
        except NoReceiver as exc:  # the host's hook went away mid-poll: nothing committed
            record_problem(self.engine, exc.reason)
            self._finish()
            return fired
        run.read += len(page.results)
        # Every result up to here is handled or skipped: the cursor may pass them all.
        with Session(self.engine) as session:
            self._advance(session, newest, 0)
            session.commit()
        if page.after is None or not self._renew():
            self._finish(completed=page.after is None)
        elif run.read + self.page_size > MAX_RESULTS_PER_QUERY:
            # HubSpot pages one query through 10,000 results: start a new one from here.
            if newest == run.since:
                self._finish(completed=True)  # 10,000 changes in one millisecond
            else:
                run.since, run.after, run.read = newest, None, 0
        else:
            run.after = page.after
        return fired

    def _finish(self, *, completed: bool = False) -> None:
        """Ends the poll under way: the lease goes back; a poll that handed everything on
        clears a recorded receiver problem (this process has the host's hook)."""
        self._run = None
        release_poll(self.engine, CURSOR, self.owner)
        if completed:
            clear_problem(self.engine)

    def _readable(self, ticket: CrmObject, latest: int) -> int | None:
        """The result's modification time, when the result can be read: an ASCII id, a
        date no later than ``latest``, text values. Otherwise None, logged once."""
        value = ticket.properties.get(api.TICKET_MODIFIED)
        changed_at = modified_ms(value) if isinstance(value, str) else None
        problem = None
        if not (ticket.id.isascii() and ticket.id.isdigit() and len(ticket.id) <= 30):
            problem = "an id that is not a HubSpot id"
        elif changed_at is None:
            problem = f"an unreadable {api.TICKET_MODIFIED}"
        elif changed_at > latest:
            problem = f"a {api.TICKET_MODIFIED} in the future"
        elif any(
            not isinstance(ticket.properties.get(p), str | int | float | None)
            or isinstance(ticket.properties.get(p), bool)
            for p in TRACKED
        ):
            problem = "a property that is not text"
        if problem is None:
            return changed_at
        key = (ticket.id[:40], problem)
        if key not in self._reported and len(self._reported) < MAX_REPORTED:
            self._reported.add(key)
            log.warning(
                "Polling HubSpot: skipped a ticket search result with %s (id %r, %s %r)",
                problem,
                ticket.id[:40],
                api.TICKET_MODIFIED,
                str(value)[:40],
            )
        return None

    def _handle(self, ticket: CrmObject, changed_at: int, settings: HubSpotSettings) -> int:
        """Hands one polled version of a ticket to the host if it changed; 1 when it did."""
        values = {p: str(v) for p in TRACKED if (v := ticket.properties.get(p)) is not None}
        text = poll_record(values, changed_at).text()
        with Session(self.engine) as session:
            panel_id = panel_ticket_of(session, ticket.id)
            if panel_id is None:
                return 0  # not created by this panel (or not linked yet)
            polled = session.get(PolledTicket, ticket.id)
            if polled is None:
                # First sight: compare with what the plugin sent, leaving out what it may
                # be sending right now.
                writes = panel_writes(session, panel_id, None)
                before: Mapping[str, str] = writes.sent
                session.add(
                    PolledTicket(hubspot_id=ticket.id, modified_ms=changed_at, properties=text)
                )
                try:
                    session.flush()
                except IntegrityError:
                    session.rollback()  # another worker handled this ticket first
                    return 0
            else:
                if polled.modified_ms > changed_at or (
                    polled.modified_ms == changed_at and polled.properties == text
                ):
                    return 0  # seen already, or an older version the index shows late
                # Since the last version seen: what the plugin wrote is its own echo.
                writes = panel_writes(session, panel_id, polled.modified_ms)
                before = read(polled.properties).values
                if not self._replace(session, polled, changed_at, text):
                    session.rollback()
                    return 0
            changes = {
                p: v for p, v in values.items() if before.get(p) != v and not writes.is_ours(p, v)
            }
            self._advance(session, changed_at, int(ticket.id))
            if changes:
                stage = changes.get("hs_pipeline_stage")
                fire(
                    self.runtime.plugin_manager,
                    TicketChange(
                        ticket_id=panel_id,
                        hubspot_ticket_id=ticket.id,
                        event_id=f"poll:{ticket.id}:{changed_at}",
                        occurred_at_ms=changed_at,
                        changes=changes,
                        status=status_of_stage(settings, stage) if stage else None,
                        change_source="POLLING",
                        kind="poll",
                    ),
                    session,
                )
            session.commit()
        return 1 if changes else 0

    @staticmethod
    def _replace(session: Session, polled: PolledTicket, changed_at: int, text: str) -> bool:
        """Compare-and-set: records the newer version unless another worker already did."""
        result = session.exec(
            update(PolledTicket)
            .where(
                col(PolledTicket.hubspot_id) == polled.hubspot_id,
                col(PolledTicket.modified_ms) == polled.modified_ms,
                col(PolledTicket.properties) == polled.properties,
            )
            .values(modified_ms=changed_at, properties=text)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)

    @staticmethod
    def _advance(session: Session, changed_at: int, object_id: int) -> None:
        """Moves the cursor forward to (changed_at, object_id), never back."""
        session.exec(
            update(PollCursor)
            .where(
                col(PollCursor.name) == CURSOR,
                or_(
                    col(PollCursor.modified_ms) < changed_at,
                    and_(
                        col(PollCursor.modified_ms) == changed_at,
                        col(PollCursor.object_id) < object_id,
                    ),
                ),
            )
            .values(modified_ms=changed_at, object_id=object_id)
            .execution_options(synchronize_session=False)
        )
