"""Small typed objects the host passes to hooks and gets back from them.

They are deliberately not the host's ORM rows: a host copies the few fields the
plugin needs, so the plugin never holds a session-bound object past the hook call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

#: ``mapping`` is a JSON object of key → value text (rendered as rows of two inputs).
FieldType = Literal["bool", "text", "secret", "select", "mapping"]


@dataclass(frozen=True)
class User:
    """A panel user, as the host knows it when it fires a user hook.

    ``extra`` holds the panel's own fields (``{"plan": "pro", "server_count": "3"}``) that
    the contact property map may send to HubSpot; it is copied into a plain dict and left
    out of the hash, so a User stays hashable.

    ``email_verified`` is True only when the panel has proved the user owns ``email`` (a
    confirmation link, a trusted import). Chat visitor identification is given to verified
    users only: an unverified sign-up with someone else's address must not open that
    person's identified chat and its history.
    """

    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)
    email_verified: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", dict(self.extra))


@dataclass(frozen=True)
class Ticket:
    """A panel support ticket; ``priority`` and ``category`` are the panel's own words.

    ``extra`` holds the panel's own ticket fields for the ticket property map, as for User.
    """

    id: str
    subject: str
    content: str = ""
    priority: str = ""
    category: str = ""
    status: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", dict(self.extra))


#: Who wrote a ticket message: the customer who opened the ticket, or the panel's staff.
AuthorKind = Literal["customer", "staff"]


@dataclass(frozen=True)
class TicketMessage:
    """One message of a support ticket's conversation, as the panel stored it.

    ``id`` is the panel's own id of the message (unique across the panel: it makes the
    delivery idempotent), ``ticket_id`` the panel ticket it belongs to. ``author_kind`` is
    ``"customer"`` for the ticket's customer and ``"staff"`` for the panel's support staff;
    ``author_name`` and ``author_email`` say who wrote it (shown as the email's sender in
    HubSpot). ``body`` is plain text. ``sent_at`` is when it was written: it places the
    message on HubSpot's ticket timeline (a naive datetime is read as UTC).
    """

    id: str
    ticket_id: str
    author_kind: AuthorKind
    body: str
    sent_at: datetime
    author_name: str = ""
    author_email: str = ""


@dataclass(frozen=True)
class TicketChange:
    """What HubSpot reported about a ticket the plugin created, from a verified webhook.

    ``changes`` maps HubSpot property names to their new values; ``status`` is the panel
    word for a new pipeline stage when there is one (open, waiting, in_progress, closed);
    ``deleted`` is True when the ticket was deleted in HubSpot. ``kind`` says what
    happened: ``propertyChange``, ``deletion``, ``restore``, ``merge`` (``merged_ids`` then
    names the HubSpot tickets merged into ``hubspot_ticket_id``, which now stands for the
    panel ticket) or ``poll`` (a change found by polling; ``changes`` then holds the
    ticket's current values of the properties that differ from what the panel sent).
    """

    ticket_id: str
    hubspot_ticket_id: str
    event_id: str
    occurred_at_ms: int
    changes: Mapping[str, str] = field(default_factory=dict)
    status: str | None = None
    deleted: bool = False
    change_source: str = ""
    kind: str = "propertyChange"
    merged_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageContext:
    """The page being rendered: its path, the CSP nonce for inline scripts, the viewer.

    ``user`` is the logged-in viewer; the chat identifies them only when
    ``user.email_verified`` is True. ``tracking_consent`` is the visitor's answer to the host's cookie banner: False keeps
    everything of HubSpot's that tracks (the chat loader, the form embed) off the page;
    None means the host does not manage consent, and the plugin follows its settings.
    """

    path: str = "/"
    csp_nonce: str | None = None
    user: User | None = None
    tracking_consent: bool | None = None


@dataclass(frozen=True)
class SubscriptionConsent:
    """One subscription checkbox of a form: HubSpot's subscription type, the visitor's
    answer, and the checkbox's wording exactly as the visitor saw it."""

    subscription_type_id: int
    value: bool
    text: str


@dataclass(frozen=True)
class FormConsent:
    """The GDPR consent a visitor gave on a panel form, sent to HubSpot as
    ``legalConsentOptions.consent``: whether they agreed to the processing of their data,
    the wording of that agreement as shown, and one entry per subscription checkbox."""

    consent_to_process: bool
    text: str
    communications: tuple[SubscriptionConsent, ...] = ()


@dataclass(frozen=True)
class Visitor:
    """Who submitted a panel form, for the context HubSpot files the submission under.

    ``hutk`` is the visitor's ``hubspotutk`` cookie (pass it only when the visitor accepted
    tracking; a malformed one is left out), ``page_uri`` and ``page_name`` the address and
    title of the page the form was on, ``ip_address`` the visitor's address, and
    ``consent`` the GDPR consent they gave on the form, when the form asks for it.
    """

    hutk: str | None = None
    page_uri: str = ""
    page_name: str = ""
    ip_address: str | None = None
    consent: FormConsent | None = None


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
    the host implements (``skypanel_on_hubspot_ticket_changed``). ``hubspot_api_version``,
    when set, overrides the ``hubspot_api_version`` setting (``2026-09``, ``2026-03`` or
    ``v3``) for this process. ``public_base_url`` is the
    panel's address as the internet reaches it (``https://panel.example.com``): a webhook's
    signature is checked against ``<public_base_url>/api/hubspot/webhooks`` when the admin
    has not entered the webhook URL, and never against the request's Host header.
    ``ticket_poll_interval``, when set, overrides the ``hubspot_ticket_poll_interval``
    setting (seconds) for this process's worker.
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
    hubspot_api_version: str | None = None
    public_base_url: str | None = None
    ticket_poll_interval: float | None = None


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

    On admin routes, ``actor`` is the admin the host says is calling (a username, for the
    audit trail; None when the host does not say) and ``client_address`` the caller's
    address as the host's framework sees it (behind a proxy, as the host's proxy
    middleware set it).
    """

    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    method: str = "GET"
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_body: bytes = b""
    actor: str | None = None
    client_address: str | None = None


@dataclass(frozen=True)
class AdminResponse:
    """A framework-neutral answer; the host's adapter serialises ``body`` as JSON.

    With ``content_type`` set, ``body`` is text sent as it is under that type (the metrics
    route's Prometheus text format)."""

    status: int
    body: Any
    content_type: str | None = None


@dataclass(frozen=True)
class HubSpotTicketMessage:
    """An agent's reply to the customer, written in HubSpot on a ticket the panel knows.

    ``ticket_id`` is the panel ticket; ``hubspot_ticket_id`` and ``hubspot_email_id`` are
    HubSpot's ticket and the email engagement the reply is (its id is unique: the host may
    keep it to show each reply once). ``author_name`` and ``author_email`` say which agent
    wrote it, ``text`` is the reply as plain text (HubSpot's text body, or its HTML body
    reduced to text when it has no text one), ``subject`` the email's subject and
    ``sent_at`` its place on the ticket's timeline (``hs_timestamp``, UTC).
    """

    ticket_id: str
    hubspot_ticket_id: str
    hubspot_email_id: str
    text: str
    sent_at: datetime
    author_name: str = ""
    author_email: str = ""
    subject: str = ""


@dataclass(frozen=True)
class HubSpotBornTicket:
    """A ticket opened in HubSpot (an agent turned a chat or an email into a ticket) for a
    contact that is a panel user, to become a panel ticket of that user.

    ``user_id`` is the panel user the contact is linked to and ``contact_email`` the
    contact's address. ``subject`` and ``content`` are the ticket's text; ``pipeline`` and
    ``stage`` HubSpot's ids, ``status`` the panel word the stage maps to (None when the
    status mapping names no such stage), ``priority`` HubSpot's value (``LOW``, ``MEDIUM``,
    ``HIGH``, ``URGENT`` or empty) and ``created_at`` when HubSpot opened it (UTC).
    """

    hubspot_ticket_id: str
    user_id: str
    contact_email: str
    subject: str
    content: str
    pipeline: str
    stage: str
    created_at: datetime
    status: str | None = None
    priority: str = ""
