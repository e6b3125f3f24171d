"""Whether the host can receive ticket changes made in HubSpot, and the record of when not.

Changes reach the host through its implementation of ``skypanel_on_hubspot_ticket_changed``
on the plugin manager it gave in ``HostContext``. Without one, a change handed on would be
lost for good (HubSpot does not send an acknowledged webhook again, and a poll moves its
cursor past it), so while ticket sync is on the webhook answers 503 (HubSpot retries), a
poll waits, and the reason is logged, recorded for ``skypanel-hubspot status`` and shown
by Test connection.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from skypanel_hubspot_plugin.delivery.outbox_table import utcnow
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.webhooks.table import ReceiverProblem

log = logging.getLogger(__name__)

HOOK = "skypanel_on_hubspot_ticket_changed"
TICKETS = "tickets"
NO_PLUGIN_MANAGER = (
    "the host gave no plugin_manager in HostContext; pass plugin_manager=pm in HostContext "
    f"(pm: the plugin manager holding the host's {HOOK})"
)
NO_IMPLEMENTATION = (
    f"no implementation of {HOOK} is registered on the host's plugin manager; register the "
    "host's with pm.register(...) before skypanel_startup (worker processes: --plugin)"
)


class NoReceiver(Exception):
    """A ticket change with nobody to hand it to; the caller's transaction must roll back."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def receiver_problem(plugin_manager: Any) -> str | None:
    """Why ``plugin_manager`` cannot hand a ticket change to the host; None when it can."""
    if plugin_manager is None:
        return NO_PLUGIN_MANAGER
    caller = getattr(getattr(plugin_manager, "hook", None), HOOK, None)
    if caller is None or not caller.get_hookimpls():
        return NO_IMPLEMENTATION
    return None


def wants_changes(settings: HubSpotSettings) -> bool:
    """Ticket sync is on: changes made in HubSpot are to come back, by webhooks or polling."""
    return settings.enabled and settings.ticket_enabled and settings.ticket_sync != "off"


def record_problem(engine: Engine, reason: str) -> None:
    """Notes (or renews) that a change could not be handed on, and why."""
    with Session(engine) as session:
        row = session.get(ReceiverProblem, TICKETS)
        if row is None:
            session.add(ReceiverProblem(name=TICKETS, reason=reason))
        else:
            if row.reason != reason:
                row.reason, row.since = reason, utcnow()
            row.last_at = utcnow()
            session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # another process recorded it at the same moment


def clear_problem(engine: Engine) -> None:
    """Changes can be handed on again (from this process at least)."""
    with Session(engine) as session:
        session.exec(delete(ReceiverProblem).where(ReceiverProblem.name == TICKETS))  # type: ignore[arg-type]
        session.commit()


def recorded_problem(engine: Engine) -> str | None:
    """The recorded reason, with when it began and was last seen; None when none is."""
    with Session(engine) as session:
        row = session.get(ReceiverProblem, TICKETS)
        if row is None:
            return None
        return (
            f"{row.reason} (ticket changes refused since {row.since:%Y-%m-%d %H:%M:%S} UTC, "
            f"last at {row.last_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
