"""The plugin's own errors for what HubSpot answered, so callers never handle client internals.

Every error says whether retrying can help (:attr:`HubSpotError.transient`) and how long
HubSpot asked us to wait. None of them ever carries the access token or the app secret:
HubSpot may echo what it was sent (a token in a "malformed header" message, escaped, split
or cut short), so every text of an answer is scrubbed (:func:`~skypanel_hubspot_plugin.
common.scrub.scrub`) as it is read, before any caller can show, store or log it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from skypanel_hubspot_plugin.common.scrub import scrub

EXISTING_ID_RE = re.compile(r"Existing ID:\s*(\d+)")


class HubSpotError(Exception):
    """A HubSpot call failed; ``status`` is None when HubSpot was never reached."""

    transient = False
    #: What an admin does about a delivery parked by this error, when the error says
    #: nothing retrying could change (the same request fails until the admin acts).
    remedy: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        retry_after: float | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.retry_after = retry_after
        self.details = details or []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class NotEnabled(HubSpotError):
    def __init__(self, message: str = "HubSpot integration is not enabled") -> None:
        super().__init__(message)


class TicketsNotEnabled(NotEnabled):
    def __init__(self) -> None:
        super().__init__("HubSpot ticket support is not enabled")


class NotConfigured(HubSpotError):
    """Enabled, but the portal id or token is missing or unreadable."""


class InvalidToken(HubSpotError):
    """401: the token is wrong, revoked or expired."""

    remedy = (
        "HubSpot refused the access token: fix the token in the HubSpot settings "
        "(Test connection says when HubSpot accepts it), then Replay this delivery."
    )


class MissingScopes(HubSpotError):
    """403: the private app lacks scopes; ``scopes`` names those HubSpot asked for."""

    def __init__(self, message: str, *, scopes: list[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.scopes = scopes


class NotFound(HubSpotError):
    """404: the object (or the portal) is not there."""


class Conflict(HubSpotError):
    """409: a unique value exists already; ``existing_id`` is the object holding it."""

    def __init__(self, message: str, *, existing_id: str | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.existing_id = existing_id


class BadRequest(HubSpotError):
    """400: HubSpot refused the values; retrying the same request cannot help."""


class RateLimited(HubSpotError):
    transient = True


class DailyLimitReached(RateLimited):
    """429 with ``policyName`` DAILY: the portal spent its requests for the day.

    Retrying before the limit resets only spends attempts: HubSpot resets daily limits at
    midnight in the portal's time zone. ``resets_at`` is that moment (aware datetime) and
    ``retry_after`` the seconds until it; the service fills them from the portal's UTC
    offset once it has read the account details, and from UTC midnight until then.
    ``daily_limit`` is HubSpot's ``X-HubSpot-RateLimit-Daily`` when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        daily_limit: int | None = None,
        now: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.daily_limit = daily_limit
        self._now = now or datetime.now(UTC)
        self.resets_at: datetime = self._now
        self.reset_in(UTC)

    def reset_in(self, zone: tzinfo) -> None:
        """Sets ``resets_at`` and ``retry_after`` to the next midnight in ``zone``."""
        local = self._now.astimezone(zone)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        self.resets_at = midnight
        self.retry_after = max(0.0, (midnight - self._now).total_seconds())


class ServerError(HubSpotError):
    transient = True


class Unreachable(HubSpotError):
    """No answer: connection refused, DNS, TLS, or the per-call timeout passed.

    ``url`` is the base URL that could not be reached, so the admin is told which one
    (a host or a test may point the plugin elsewhere than api.hubapi.com)."""

    transient = True

    def __init__(self, message: str, *, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.url = url


def error_from_response(
    status: int, body: bytes | str | None, headers: Mapping[str, str] | None
) -> HubSpotError:
    """Turns one HubSpot error answer into the matching HubSpotError, its texts scrubbed."""
    parsed = _scrubbed(_json(body))
    message = str(parsed.get("message") or f"HubSpot answered HTTP {status}")
    common: dict[str, Any] = {
        "status": status,
        "category": parsed.get("category") or parsed.get("errorType"),
        "correlation_id": parsed.get("correlationId"),
        "retry_after": _retry_after(headers),
        "details": [d for d in parsed.get("errors") or [] if isinstance(d, dict)],
    }
    if status == 401:
        return InvalidToken(message, **common)
    if status == 403:
        scopes = _required_scopes(parsed)
        if scopes or common["category"] == "MISSING_SCOPES":
            return MissingScopes(message, scopes=scopes, **common)
        return HubSpotError(message, **common)
    if status == 404:
        return NotFound(message, **common)
    if status == 409:
        return Conflict(message, existing_id=_existing_id(message, common["details"]), **common)
    if status == 429:
        if _is_daily(parsed, headers):
            return DailyLimitReached(
                message, daily_limit=_int_header(headers, "x-hubspot-ratelimit-daily"), **common
            )
        return RateLimited(message, **common)
    if status >= 500:
        return ServerError(message, **common)
    return BadRequest(naming_properties(message, common["details"]), **common)


def _is_daily(parsed: Mapping[str, Any], headers: Mapping[str, str] | None) -> bool:
    """HubSpot names the spent policy in the body; a daily-remaining of 0 says the same."""
    if str(parsed.get("policyName") or "").upper() == "DAILY":
        return True
    return _int_header(headers, "x-hubspot-ratelimit-daily-remaining") == 0


def _int_header(headers: Mapping[str, str] | None, wanted: str) -> int | None:
    for name, value in (headers or {}).items():
        if name.lower() == wanted:
            try:
                return int(value)
            except ValueError:
                return None
    return None


#: HubSpot's ``errors[].code`` for a write refused by a rule the portal's admin set, which
#: the API enforces from version 2026-09 (earlier versions ignore the rules).
CONDITIONAL_RULE = "MISSING_CONDITIONAL_REQUIRED_PROPERTY"
REQUIRED_RULE = "MISSING_REQUIRED_PROPERTY"
PORTAL_RULE_CODES = frozenset({CONDITIONAL_RULE, REQUIRED_RULE})
PORTAL_RULE_REMEDY = (
    "Map a panel field to it (the property map in the HubSpot settings) or have the "
    "portal's admin change the rule, then replay this delivery."
)


def _existing_id(message: str, details: list[dict[str, Any]]) -> str | None:
    """The id of the record holding the value, from "Existing ID: N" in the message or,
    failing that, in one of the details (``errors[].message``) HubSpot lists."""
    for text in [message, *(str(d.get("message") or "") for d in details)]:
        match = EXISTING_ID_RE.search(text)
        if match:
            return match.group(1)
    return None


def naming_properties(message: str, details: list[dict[str, Any]]) -> str:
    """HubSpot's message, said plainly, plus the properties its details name when the
    message does not.

    HubSpot embeds its per-property results as JSON in a refusal's message; they are said
    as ``property: why [CODE]`` (:func:`readable_results`). A write refused by a portal's
    validation rule says which property in ``errors[].context.propertyName``; an admin needs
    that name to fix the rule or the mapping. A rule the portal's admin set (a conditionally
    required property, a property the record's creation form requires) is said as such,
    with what to do about it.
    """
    message = readable_results(message)
    named: list[str] = []
    rules: list[str] = []
    for detail in details:
        context = detail.get("context")
        props = [
            p
            for p in (context.get("propertyName") or [] if isinstance(context, dict) else [])
            if isinstance(p, str)
        ]
        if detail.get("code") in PORTAL_RULE_CODES:
            rules.append(_portal_rule(str(detail["code"]), props, str(detail.get("message") or "")))
            continue
        named.extend(p for p in props if p not in named and p not in message)
    text = message
    if named:
        text = f"{text} (property {', '.join(named)})"
    if rules:
        text = f"{text.rstrip('.')}: {'; '.join(rules)}. {PORTAL_RULE_REMEDY}"
    return text


def _portal_rule(code: str, props: list[str], said: str) -> str:
    """One broken portal rule in an admin's words, naming the rule and the property."""
    names = ", ".join(props) or "a property"
    rule = (
        "a conditional property rule of the portal"
        if code == CONDITIONAL_RULE
        else "the portal (a required property of its record creation form)"
    )
    return f"{names} is required by {rule} [{code}]" + (f" — {said}" if said else "")


def readable_results(message: str) -> str:
    """``message`` with the JSON array of per-property results HubSpot embeds in it said as
    text: ``Property values were not valid: [{"isValid":false,"message":"low was not one of
    the allowed options: [LOW, HIGH]","error":"INVALID_OPTION","name":"hs_ticket_priority"}]``
    becomes ``Property values were not valid: hs_ticket_priority: low was not one of the
    allowed options: [LOW, HIGH]``. Any other message is returned as it is.
    """
    head, sep, rest = message.partition(": [")
    if not sep:
        return message
    try:
        results = json.loads("[" + rest)
    except (ValueError, RecursionError):
        return message
    if not isinstance(results, list) or not results:
        return message
    parts: list[str] = []
    for result in results:
        if not isinstance(result, dict):
            return message
        why = result.get("message") or result.get("localizedErrorMessage") or result.get("error")
        name = result.get("name")
        if not isinstance(why, str) or not why:
            return message
        code = result.get("error")
        if isinstance(code, str) and code.isidentifier():  # the cause, apart from the value
            why = f"{why} [{code}]"
        parts.append(f"{name}: {why}" if isinstance(name, str) and name else why)
    # Decoding undid the JSON escapes, so what they hid is scrubbed again.
    return scrub(f"{head}: {'; '.join(parts)}")


def _scrubbed(value: Any) -> Any:
    """``value`` (parsed JSON) with every string in it scrubbed of secrets."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def _json(body: bytes | str | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _required_scopes(parsed: Mapping[str, Any]) -> list[str]:
    scopes: list[str] = []
    contexts = [parsed.get("context") or {}] + [
        d.get("context") or {} for d in parsed.get("errors") or [] if isinstance(d, dict)
    ]
    for context in contexts:
        if not isinstance(context, dict):
            continue
        for name in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
            for scope in context.get(name) or []:
                if isinstance(scope, str) and scope not in scopes:
                    scopes.append(scope)
    return scopes
