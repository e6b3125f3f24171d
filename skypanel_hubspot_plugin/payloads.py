"""Small typed objects the host passes to hooks and gets back from them.

They are deliberately not the host's ORM rows: a host copies the few fields the
plugin needs, so the plugin never holds a session-bound object past the hook call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal["bool", "text", "secret", "select"]


@dataclass(frozen=True)
class User:
    """A panel user, as the host knows it when it fires a user hook."""

    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Ticket:
    """A panel support ticket; ``priority`` and ``category`` are the panel's own words."""

    id: str
    subject: str
    content: str = ""
    priority: str = ""
    category: str = ""
    status: str = ""


@dataclass(frozen=True)
class TicketChange:
    """What HubSpot reported about a ticket the plugin created, from a verified webhook.

    ``changes`` maps HubSpot property names to their new values; ``status`` is the panel
    word for a new pipeline stage when there is one (open, waiting, in_progress, closed);
    ``deleted`` is True when the ticket was deleted in HubSpot.
    """

    ticket_id: str
    hubspot_ticket_id: str
    event_id: str
    occurred_at_ms: int
    changes: Mapping[str, str] = field(default_factory=dict)
    status: str | None = None
    deleted: bool = False
    change_source: str = ""


@dataclass(frozen=True)
class PageContext:
    """The page being rendered: its path, the CSP nonce for inline scripts, the viewer."""

    path: str = "/"
    csp_nonce: str | None = None
    user: User | None = None


#: ``list_users(after, limit)``: the next ``limit`` panel users after the one with id ``after``.
ListUsers = Callable[[str | None, int], Sequence[User]]


@dataclass(frozen=True)
class HostContext:
    """What the host gives plugins at start-up.

    ``engine`` is the host's SQLAlchemy engine (the plugin keeps its tables there).
    ``secret_keys`` are Fernet keys, newest first; when empty, the plugin reads
    ``SKYPANEL_HUBSPOT_SECRET_KEYS``. ``hubspot_base_url`` points the HubSpot client
    somewhere other than ``https://api.hubapi.com`` (a sandbox or the fake HubSpot).
    ``run_worker=False`` leaves delivery to separate ``skypanel_hubspot_plugin.worker``
    processes; ``delivery_lease_s`` is how long a claimed delivery stays with a worker that
    may have died before another takes it. ``list_users`` is how a contact backfill reads
    the panel's users: ``list_users(after, limit)`` returns up to ``limit`` users that come
    after the user whose id is ``after`` (from the first when None), in one stable order.
    ``plugin_manager`` is the host's own manager, through which the plugin fires the hooks
    the host implements (``skypanel_on_hubspot_ticket_changed``).
    """

    engine: Any
    secret_keys: Sequence[str] = ()
    hubspot_base_url: str | None = None
    settings_poll_interval: float = 2.0
    run_worker: bool = True
    delivery_lease_s: float = 60.0
    hubspot_timeout: tuple[float, float] = (3.05, 10.0)
    list_users: ListUsers | None = None
    plugin_manager: Any = None


@dataclass(frozen=True)
class SettingField:
    """One field of the settings form; a host renders it without knowing HubSpot.

    ``required_when`` names a bool field: once that one is on, this one is required.
    """

    key: str
    label: str
    type: FieldType
    help: str = ""
    default: str | bool = ""
    required: bool = False
    required_when: str | None = None
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AdminRequest:
    """A framework-neutral request to a plugin route: the query string and the parsed JSON body.

    Routes that check a signature (HubSpot's webhooks) also need what was signed: the
    method, the full URL as the caller used it, the headers (names in lower case) and the
    body's bytes exactly as received. Adapters fill them all.
    """

    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    method: str = "GET"
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_body: bytes = b""


@dataclass(frozen=True)
class AdminResponse:
    """A framework-neutral JSON answer; the host's adapter serialises ``body``."""

    status: int
    body: Any
