"""The typed settings object and the rules for each field.

Two entry points, on purpose: :func:`validate_changes` is strict (an admin's input:
every problem is reported by field name and nothing is saved), while
:func:`settings_from_rows` is lenient (whatever is in the table: a bad value is
ignored and reported in ``problems``, so a broken row never breaks a page).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.hubspot import api
from skypanel_hubspot_plugin.hubspot.versions import DEFAULT_VERSION, version_named
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.property_map import (
    DEFAULT_CONTACT_MAP,
    DEFAULT_TICKET_MAP,
    PropertyMap,
    json_setting,
    parse_contact_property_map,
    parse_ticket_property_map,
)

PORTAL_ID_RE = re.compile(r"[1-9][0-9]{0,11}")
GUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# RFC 6750 "b64token": what may follow "Bearer " in an Authorization header.
BEARER_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
PRIVATE_APP_TOKEN_RE = re.compile(
    r"pat-(?P<region>[a-z]{2}[0-9]{1,2})-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
PIPELINE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
ENUM_VALUE_RE = re.compile(r"[A-Z0-9_]{1,100}")
USER_DELETED_ACTIONS = ("nothing", "archive", "gdpr_delete")
MAX_TOKEN_LENGTH = 2048
MAX_URL_LENGTH = 2048
APP_SECRET_RE = re.compile(r"[A-Za-z0-9-]{8,200}")
TRUE_WORDS = frozenset({"true", "1", "on", "yes"})
FALSE_WORDS = frozenset({"false", "0", "off", "no", ""})

STATUS_STAGES_SHAPE = 'a JSON object of panel ticket status → stage id, like {"open": "1", …}'
SYNC_MODES = tuple(mode for mode, _ in keys.SYNC_MODES)
MIN_POLL_S = 10
MAX_POLL_S = 3600
DEFAULT_STATUS_STAGES = PropertyMap(
    (("open", "1"), ("waiting", "2"), ("in_progress", "3"), ("closed", "4"))
)

TokenSource = Literal["environment", "database"]


class InvalidSettings(InvalidInput):
    """Settings the admin must fix; ``errors`` maps each setting key to what is wrong."""


@dataclass(frozen=True)
class HubSpotSettings:
    """Everything the plugin reads from its settings, typed. Safe to log: the token is a Secret."""

    enabled: bool = False
    portal_id: str = ""
    region: str = "na1"
    chat_enabled: bool = False
    chat_identify_visitors: bool = False
    ticket_enabled: bool = False
    ticket_form_id: str = ""
    contact_form_id: str = ""
    ticket_pipeline: str = "0"
    ticket_stage: str = "1"
    ticket_default_category: str = "GENERAL_INQUIRY"
    user_deleted_action: str = "nothing"
    rate_limit: int = 100
    webhook_url: str = ""
    contact_property_map: PropertyMap = DEFAULT_CONTACT_MAP
    ticket_property_map: PropertyMap = DEFAULT_TICKET_MAP
    api_version: str = DEFAULT_VERSION
    retention_days: int = 30
    audit_retention_days: int = 365
    ticket_status_stages: PropertyMap = DEFAULT_STATUS_STAGES
    ticket_sync: str = "webhooks"
    ticket_poll_interval: int = 60
    import_hubspot_tickets: bool = False
    #: Pipeline ids, comma-separated, whose HubSpot-born tickets are brought in ("" = the
    #: ticket pipeline); read through :attr:`import_pipeline_ids`.
    import_pipelines: str = ""
    token: Secret | None = None
    token_source: TokenSource | None = None
    app_secret: Secret | None = None
    problems: Mapping[str, str] = field(default_factory=dict)

    @property
    def chat_active(self) -> bool:
        """Whether the chat loader belongs in the page head."""
        return self.enabled and self.chat_enabled and bool(self.portal_id)

    @property
    def import_pipeline_ids(self) -> tuple[str, ...]:
        """The pipelines whose tickets opened in HubSpot become panel tickets."""
        chosen = tuple(p for p in self.import_pipelines.split(",") if p)
        return chosen or (self.ticket_pipeline,)

    @property
    def imports_tickets(self) -> bool:
        """Tickets opened in HubSpot for panel users are to become panel tickets."""
        return (
            self.enabled
            and self.ticket_enabled
            and self.import_hubspot_tickets
            and self.ticket_sync != "off"
        )

    @property
    def token_kind(self) -> str | None:
        """``private-app`` for ``pat-…`` tokens, ``other`` for Service Keys and the rest."""
        if self.token is None:
            return None
        return "private-app" if PRIVATE_APP_TOKEN_RE.fullmatch(self.token.reveal()) else "other"


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError("must be true or false")


def _text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be text")
    return str(value).strip()


def parse_portal_id(value: object) -> str:
    text = _text(value)
    if text and not PORTAL_ID_RE.fullmatch(text):
        raise ValueError("must be digits only (the number in your HubSpot URL), e.g. 12345678")
    return text


def parse_region(value: object) -> str:
    text = _text(value).lower() or "na1"
    if text not in api.KNOWN_REGIONS:
        raise ValueError(f"must be one of HubSpot's region codes: {', '.join(api.KNOWN_REGIONS)}")
    return text


def parse_form_id(value: object) -> str:
    text = _text(value).lower()
    if text and not GUID_RE.fullmatch(text):
        raise ValueError("must be a HubSpot form GUID like 1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6")
    return text


def parse_token(value: object) -> str:
    """Checks the shape of a bearer credential; whether HubSpot accepts it is the connection test's job."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_TOKEN_LENGTH:
        raise ValueError(f"is longer than {MAX_TOKEN_LENGTH} characters; paste only the token")
    if any(ch.isspace() for ch in text):
        raise ValueError("must not contain spaces or line breaks; paste only the token")
    if not BEARER_RE.fullmatch(text):
        raise ValueError("contains characters a HubSpot access token never has")
    return text


def parse_app_secret(value: object) -> str:
    """A HubSpot app's client secret: letters, digits and dashes (a GUID today)."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    if not APP_SECRET_RE.fullmatch(text):
        raise ValueError(
            "must be the app's client secret as HubSpot shows it (letters, digits and dashes)"
        )
    return text


def parse_webhook_url(value: object) -> str:
    text = _text(value)
    if not text:
        return text
    parts = urlsplit(text)
    if len(text) > MAX_URL_LENGTH or parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be the full https:// address entered in HubSpot")
    if parts.fragment or any(ch.isspace() for ch in text):
        raise ValueError("must be the full https:// address entered in HubSpot")
    return text


def parse_pipeline_id(value: object) -> str:
    text = _text(value)
    if not PIPELINE_ID_RE.fullmatch(text):
        raise ValueError("must be a HubSpot pipeline or stage id (letters, digits, - or _)")
    return text


def parse_category(value: object) -> str:
    text = _text(value).upper()
    if not ENUM_VALUE_RE.fullmatch(text):
        raise ValueError("must be a HubSpot category value such as GENERAL_INQUIRY")
    return text


def parse_deleted_action(value: object) -> str:
    text = _text(value).lower()
    if text not in USER_DELETED_ACTIONS:
        raise ValueError(f"must be one of {', '.join(USER_DELETED_ACTIONS)}")
    return text


def parse_rate_limit(value: object) -> int:
    text = _text(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not 1 <= int(text) <= 1000:
        raise ValueError("must be a whole number of requests from 1 to 1000")
    return int(text)


def parse_retention_days(value: object) -> int:
    text = _text(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or int(text) > 3650:
        raise ValueError("must be a whole number of days from 0 to 3650")
    return int(text)


def parse_audit_retention_days(value: object) -> int:
    text = _text(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not 1 <= int(text) <= 3650:
        raise ValueError("must be a whole number of days from 1 to 3650")
    return int(text)


def parse_api_version(value: object) -> str:
    """One of the HubSpot API versions the plugin speaks (``v4`` is read as ``v3``)."""
    return version_named(_text(value) or None).name


def parse_status_stages(value: object) -> PropertyMap:
    """Panel ticket status → stage id, as a JSON object (or its text); every status once."""
    value = json_setting(value, STATUS_STAGES_SHAPE)
    if not isinstance(value, dict):
        raise ValueError(f"must be {STATUS_STAGES_SHAPE}")
    pairs: list[tuple[str, str]] = []
    for status in keys.TICKET_STATUSES:
        stage = value.get(status)
        if stage is None or stage == "":
            raise ValueError(f"{status}: needs a stage")
        try:
            pairs.append((status, parse_pipeline_id(stage)))
        except ValueError as exc:
            raise ValueError(f"{status}: {exc}") from None
    unknown = sorted(str(k) for k in value if k not in keys.TICKET_STATUSES)
    if unknown:
        raise ValueError(
            f"{unknown[0]}: is not a panel ticket status ({', '.join(keys.TICKET_STATUSES)})"
        )
    return PropertyMap(tuple(pairs))


def parse_sync_mode(value: object) -> str:
    text = _text(value).lower()
    if text not in SYNC_MODES:
        raise ValueError(f"must be one of {', '.join(SYNC_MODES)}")
    return text


def parse_poll_interval(value: object) -> int:
    text = _text(value)
    if not (text.isascii() and text.isdigit()) or not MIN_POLL_S <= int(text) <= MAX_POLL_S:
        raise ValueError(f"must be a whole number of seconds from {MIN_POLL_S} to {MAX_POLL_S}")
    return int(text)


#: Pipelines one setting may name.
MAX_IMPORT_PIPELINES = 20


def parse_pipeline_list(value: object) -> str:
    """Pipeline ids separated by commas (or a JSON list of them), each once, in the order
    given; stored as ``id,id``."""
    items: list[object]
    if isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [p for p in _text(value).split(",") if p.strip()]
    if len(items) > MAX_IMPORT_PIPELINES:
        raise ValueError(f"must name at most {MAX_IMPORT_PIPELINES} pipelines")
    ids: list[str] = []
    for item in items:
        try:
            pipeline = parse_pipeline_id(item)
        except ValueError:
            raise ValueError(
                "must be pipeline ids separated by commas (letters, digits, - or _)"
            ) from None
        if pipeline not in ids:
            ids.append(pipeline)
    return ",".join(ids)


FIELD_PARSERS: dict[str, Callable[[object], object]] = {
    keys.ENABLED: parse_bool,
    keys.PORTAL_ID: parse_portal_id,
    keys.REGION: parse_region,
    keys.CHAT_ENABLED: parse_bool,
    keys.CHAT_IDENTIFY: parse_bool,
    keys.TICKET_ENABLED: parse_bool,
    keys.TICKET_FORM_ID: parse_form_id,
    keys.CONTACT_FORM_ID: parse_form_id,
    keys.TICKET_PIPELINE: parse_pipeline_id,
    keys.TICKET_STAGE: parse_pipeline_id,
    keys.TICKET_DEFAULT_CATEGORY: parse_category,
    keys.USER_DELETED_ACTION: parse_deleted_action,
    keys.RATE_LIMIT: parse_rate_limit,
    keys.WEBHOOK_URL: parse_webhook_url,
    keys.CONTACT_PROPERTY_MAP: parse_contact_property_map,
    keys.TICKET_PROPERTY_MAP: parse_ticket_property_map,
    keys.API_VERSION: parse_api_version,
    keys.RETENTION_DAYS: parse_retention_days,
    keys.AUDIT_RETENTION_DAYS: parse_audit_retention_days,
    keys.TICKET_STATUS_STAGES: parse_status_stages,
    keys.TICKET_SYNC: parse_sync_mode,
    keys.TICKET_POLL_INTERVAL: parse_poll_interval,
    keys.IMPORT_TICKETS: parse_bool,
    keys.IMPORT_PIPELINES: parse_pipeline_list,
}
ATTRIBUTES = {
    keys.ENABLED: "enabled",
    keys.PORTAL_ID: "portal_id",
    keys.REGION: "region",
    keys.CHAT_ENABLED: "chat_enabled",
    keys.CHAT_IDENTIFY: "chat_identify_visitors",
    keys.TICKET_ENABLED: "ticket_enabled",
    keys.TICKET_FORM_ID: "ticket_form_id",
    keys.CONTACT_FORM_ID: "contact_form_id",
    keys.TICKET_PIPELINE: "ticket_pipeline",
    keys.TICKET_STAGE: "ticket_stage",
    keys.TICKET_DEFAULT_CATEGORY: "ticket_default_category",
    keys.USER_DELETED_ACTION: "user_deleted_action",
    keys.RATE_LIMIT: "rate_limit",
    keys.WEBHOOK_URL: "webhook_url",
    keys.CONTACT_PROPERTY_MAP: "contact_property_map",
    keys.TICKET_PROPERTY_MAP: "ticket_property_map",
    keys.API_VERSION: "api_version",
    keys.RETENTION_DAYS: "retention_days",
    keys.AUDIT_RETENTION_DAYS: "audit_retention_days",
    keys.TICKET_STATUS_STAGES: "ticket_status_stages",
    keys.TICKET_SYNC: "ticket_sync",
    keys.TICKET_POLL_INTERVAL: "ticket_poll_interval",
    keys.IMPORT_TICKETS: "import_hubspot_tickets",
    keys.IMPORT_PIPELINES: "import_pipelines",
}


def settings_from_rows(
    rows: Mapping[str, str | None],
    token: Secret | None = None,
    token_source: TokenSource | None = None,
) -> HubSpotSettings:
    """Reads whatever the table holds; a value that fails its rule falls back to the default."""
    values: dict[str, object] = {}
    problems: dict[str, str] = {}
    for key, parse in FIELD_PARSERS.items():
        raw = rows.get(key)
        if raw is None:
            continue
        try:
            values[ATTRIBUTES[key]] = parse(raw)
        except ValueError as exc:
            problems[key] = f"stored value {exc}"
        except Exception as exc:  # a value no rule foresaw must not break a page either
            problems[key] = f"stored value could not be read ({type(exc).__name__})"
    return HubSpotSettings(token=token, token_source=token_source, problems=problems, **values)  # type: ignore[arg-type]


#: The secret settings: each one's rule and the name its messages use. An empty value keeps
#: the stored secret, since the form never shows it back.
SECRET_PARSERS: dict[str, tuple[Callable[[object], str], str]] = {
    keys.API_KEY: (parse_token, "HubSpot access token"),
    keys.APP_SECRET: (parse_app_secret, "HubSpot app client secret"),
}


@dataclass(frozen=True)
class ValidChanges:
    """The result of :func:`validate_changes`: rows to write, and new secrets to encrypt."""

    rows: dict[str, str]
    secrets: dict[str, str]


def validate_changes(current: HubSpotSettings, changes: Mapping[str, object]) -> ValidChanges:
    """Checks an admin's changes against each field's rule and the whole against the others.

    A missing or empty secret (``hubspot_api_key``, ``hubspot_app_secret``) keeps the stored
    one (the form never shows it). Raises :class:`InvalidSettings` naming every bad field;
    the messages never quote a secret.
    """
    errors: dict[str, str] = {}
    rows: dict[str, str] = {}
    values: dict[str, object] = {}
    secrets: dict[str, str] = {}
    for key, raw in changes.items():
        if key in SECRET_PARSERS:
            if raw is None or raw == "":
                continue
            parse_secret, name = SECRET_PARSERS[key]
            try:
                secrets[key] = parse_secret(raw)
            except ValueError as exc:
                errors[key] = f"{name} {exc}"
            continue
        parse = FIELD_PARSERS.get(key)
        if parse is None:
            errors[key] = "is not a HubSpot setting"
            continue
        try:
            value = parse(raw)
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        values[ATTRIBUTES[key]] = value
        rows[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)

    enabled = values.get("enabled", current.enabled)
    if enabled and keys.ENABLED not in errors:
        if not values.get("portal_id", current.portal_id) and keys.PORTAL_ID not in errors:
            errors[keys.PORTAL_ID] = "Portal ID is required when HubSpot is enabled"
        if current.token is None and keys.API_KEY not in secrets and keys.API_KEY not in errors:
            errors[keys.API_KEY] = "Access token is required when HubSpot is enabled"
    if errors:
        raise InvalidSettings(errors)
    return ValidChanges(rows=rows, secrets=secrets)
