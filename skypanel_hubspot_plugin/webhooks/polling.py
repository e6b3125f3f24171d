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
  are spaced to stay under the search endpoint's own limit (HubSpot: 5 a second).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
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
from skypanel_hubspot_plugin.webhooks.table import PollCursor, PolledTicket

log = logging.getLogger(__name__)

CURSOR = "tickets"
#: The ticket properties a poll reads and reports when they change.
TRACKED = ("hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "subject")
#: Search requests a second a poll makes at most (HubSpot allows 5 per account).
SEARCH_PER_SECOND = 4.0
#: How far behind the cursor each poll reads again: longer than HubSpot's index lag.
OVERLAP_S = 120.0
#: Results one search query may page through (HubSpot's limit is 10,000).
MAX_RESULTS_PER_QUERY = 10_000
PAGE_SIZE = 100


class PollContext(Protocol):
    """What polling needs from the runtime: settings, a service, the outbox, the hook."""

    @property
    def outbox(self) -> Outbox: ...

    @property
    def plugin_manager(self) -> Any: ...

    def settings(self) -> HubSpotSettings: ...

    def service(self) -> HubSpotService: ...


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
        return int(moment.timestamp() * 1000)
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
        self._last_search = 0.0

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
        return self.poll_if_due()

    def seconds_until_due(self) -> float | None:
        """When the worker should next call :meth:`poll_if_due`; None while polling is off."""
        if not self.active(self.runtime.settings()):
            return None
        return max(0.0, self._next_check - self.clock())

    def poll_if_due(self) -> int:
        """Polls when polling is on and no worker polled within the interval; returns how
        many changes reached the host. Cheap when not due: no query until it may be."""
        settings = self.runtime.settings()
        now = self.clock()
        if not self.active(settings) or now < self._next_check:
            return 0
        interval = self.interval(settings)
        cursor = self._cursor(now)
        due_at = max(cursor.last_poll_at + interval, cursor.lease_until)
        if now < due_at:
            self._next_check = min(due_at, now + interval)
            return 0
        if not self._claim(now, interval):
            self._next_check = now + min(1.0, interval)
            return 0
        self._next_check = now + interval
        try:
            return self._poll(settings)
        finally:
            self._release()

    def _cursor(self, now: float) -> PollCursor:
        """The cursor row; created on first use, starting at the time polling began."""
        with Session(self.engine) as session:
            found = session.get(PollCursor, CURSOR)
            if found is not None:
                return found
            start = int(now * 1000)
            session.add(PollCursor(name=CURSOR, modified_ms=start))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
            found = session.get(PollCursor, CURSOR)
            assert found is not None
            return found

    def _claim(self, now: float, interval: float) -> bool:
        """Takes this interval's poll, unless another worker took it (compare-and-set)."""
        with Session(self.engine) as session:
            result = session.exec(
                update(PollCursor)
                .where(
                    col(PollCursor.name) == CURSOR,
                    col(PollCursor.last_poll_at) <= now - interval,
                    col(PollCursor.lease_until) <= now,
                )
                .values(last_poll_at=now, lease_until=now + self.lease_s, lease_owner=self.owner)
            )
            session.commit()
            return bool(result.rowcount == 1)

    def _renew(self) -> bool:
        with Session(self.engine) as session:
            result = session.exec(
                update(PollCursor)
                .where(col(PollCursor.name) == CURSOR, col(PollCursor.lease_owner) == self.owner)
                .values(lease_until=self.clock() + self.lease_s)
            )
            session.commit()
            return bool(result.rowcount == 1)

    def _release(self) -> None:
        with Session(self.engine) as session:
            session.exec(
                update(PollCursor)
                .where(col(PollCursor.name) == CURSOR, col(PollCursor.lease_owner) == self.owner)
                .values(lease_until=0.0, lease_owner=None)
            )
            session.commit()

    # -- what -----------------------------------------------------------------------------

    def _poll(self, settings: HubSpotSettings) -> int:
        with Session(self.engine) as session:
            cursor = session.get(PollCursor, CURSOR)
            since = max(0, (cursor.modified_ms if cursor else 0) - self.overlap_ms)
        service = self.runtime.service()
        fired = read = 0
        after: str | None = None
        properties = (*TRACKED, api.TICKET_MODIFIED, api.TICKET_ID_PROPERTY)
        while not self.stop_event.is_set():
            if not self._spaced():
                break
            with self.limiter.calls(self.stop_event) as allowed:
                if not allowed:
                    break
                self._last_search = plugin_clock.monotonic()
                try:
                    page = service.search_tickets_modified_since(
                        since,
                        properties,
                        has_property=api.TICKET_ID_PROPERTY,
                        limit=self.page_size,
                        after=after,
                    )
                except HubSpotError as exc:
                    log.warning("Polling HubSpot for ticket changes failed: %s", exc.message)
                    break
            for ticket in page.results:
                fired += self._handle(ticket, settings)
            read += len(page.results)
            if page.after is None or not self._renew():
                break
            if read + self.page_size > MAX_RESULTS_PER_QUERY:
                # HubSpot pages one query through 10,000 results: start a new one from here.
                newest = [modified_ms(t.properties.get(api.TICKET_MODIFIED)) for t in page.results]
                moved = max([since, *(m for m in newest if m is not None)])
                if moved == since:
                    break  # 10,000 changes in one millisecond: nothing further to page to
                since, after, read = moved, None, 0
            else:
                after = page.after
        return fired

    def _spaced(self) -> bool:
        """Waits for the search endpoint's spacing; False when told to stop meanwhile."""
        wait = self._last_search + self.spacing_s - plugin_clock.monotonic()
        return not (wait > 0 and self.stop_event.wait(wait))

    def _handle(self, ticket: CrmObject, settings: HubSpotSettings) -> int:
        """Hands one polled version of a ticket to the host if it changed; 1 when it did."""
        changed_at = modified_ms(ticket.properties.get(api.TICKET_MODIFIED))
        if changed_at is None or not (ticket.id.isascii() and ticket.id.isdigit()):
            return 0
        values = {p: str(v) for p in TRACKED if (v := ticket.properties.get(p)) is not None}
        text = json.dumps(values, sort_keys=True)
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
                before = json.loads(polled.properties)
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
