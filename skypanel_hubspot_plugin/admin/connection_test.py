"""The admin's "Test connection": one answer, in words an admin can act on.

It checks, in order, that the token is accepted, that it belongs to the configured
portal, and that its private app has the scopes for what is enabled. It names the HubSpot
API version in use and warns when that version's end of support is less than six months
away; with tickets on, it reports a ticket pipeline or stage the portal no longer has, and
says how ticket changes can come back with the saved credential. It never raises: every failure becomes a result with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from skypanel_hubspot_plugin.admin.conversation_check import conversation_warnings
from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    DailyLimitReached,
    HubSpotError,
    InvalidToken,
    MissingScopes,
    NotFound,
    RateLimited,
    ServerError,
    Unreachable,
)
from skypanel_hubspot_plugin.hubspot.service import HubSpotService
from skypanel_hubspot_plugin.hubspot.versions import VERSIONS
from skypanel_hubspot_plugin.mapping.pipeline_check import pipeline_problems
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import HubSpotSettings

SCOPES_HELP = (
    "Add them in HubSpot under Settings → Integrations → Private Apps → your app → "
    "Scopes, then paste the new token here."
)


@dataclass(frozen=True)
class ConnectionResult:
    success: bool
    message: str
    portal_id: str | None = None
    region: str | None = None
    missing_scopes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    api_version: str | None = None
    api_version_ends: str | None = None
    sync_modes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        """The seed's ``{"success", "message"}`` plus what the admin UI can show."""
        body: dict[str, object] = {"success": self.success, "message": self.message}
        if self.portal_id:
            body["portalId"] = self.portal_id
        if self.region:
            body["region"] = self.region
        if self.missing_scopes:
            body["missingScopes"] = list(self.missing_scopes)
        if self.warnings:
            body["warnings"] = list(self.warnings)
        if self.api_version:
            body["apiVersion"] = self.api_version
            body["apiVersionEndOfSupport"] = self.api_version_ends
        if self.sync_modes:
            body["syncModes"] = list(self.sync_modes)
        return body

    def as_text(self) -> str:
        """The answer for a terminal: the message, then each warning on a line of its own,
        so the text says everything the JSON does (the missing scopes and the ways ticket
        changes come back are in the message already)."""
        return "\n".join([self.message, *(f"Warning: {w}" for w in self.warnings)])


def check_connection(
    settings: HubSpotSettings,
    service: HubSpotService | None,
    *,
    today: date | None = None,
    public_base_url: str | None = None,
    ticket_changes_problem: str | None = None,
) -> ConnectionResult:
    """Tests the saved token against HubSpot; ``service`` is None when no token is set.

    ``public_base_url`` is the host's; without it or a webhook URL setting, a saved app
    secret gets a warning that webhooks are refused until the URL is known."""
    if settings.token is None or service is None:
        problem = settings.problems.get("hubspot_api_key")  # e.g. a refused environment token
        if problem:
            return ConnectionResult(False, f"{problem[:1].upper()}{problem[1:]}.")
        return ConnectionResult(False, "No HubSpot access token is set: enter one and save first.")
    try:
        account = service.account_details()
    except HubSpotError as exc:
        return ConnectionResult(False, failure_message(exc))
    if settings.portal_id and settings.portal_id != account.portal_id:
        return ConnectionResult(
            False,
            f"HubSpot portal not found: this token belongs to portal {account.portal_id}, "
            f"but the portal ID setting is {settings.portal_id}.",
            portal_id=account.portal_id,
            region=account.region,
        )
    needed = api.required_scopes(tickets=settings.ticket_enabled)
    try:
        missing = _missing_scopes(service, settings, needed)
    except HubSpotError as exc:
        return ConnectionResult(
            False, failure_message(exc), portal_id=account.portal_id, region=account.region
        )
    if missing:
        return ConnectionResult(
            False,
            f"The token lacks scope{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
            + SCOPES_HELP,
            portal_id=account.portal_id,
            region=account.region,
            missing_scopes=tuple(missing),
        )
    version = service.version
    today = today or datetime.now(UTC).date()
    warnings: list[str] = []
    if version.ending_soon(today):
        newest = VERSIONS[0].name
        warnings.append(
            f"HubSpot API version {version.name} is supported until "
            f"{version.end_of_support.isoformat()} ({max(0, version.days_left(today))} days "
            f"left); switch the HubSpot API version setting to {newest}."
        )
    if settings.ticket_enabled:
        warnings.extend(_pipeline_warnings(service, settings))
        warnings.extend(_sync_warnings(settings))
        warnings.extend(receiver_warnings(ticket_changes_problem))
        warnings.extend(conversation_warnings(service, settings))
    if account.region not in api.KNOWN_REGIONS:
        warnings.append(
            f"The portal's data is hosted in {account.region}, a region this plugin does not "
            f"know ({', '.join(api.KNOWN_REGIONS)}); the chat script may load from the wrong host."
        )
    elif account.region != settings.region:
        warnings.append(
            f"The portal's data is hosted in {account.region}; set the region to "
            f"{account.region} so the chat script loads from the right host."
        )
    if settings.app_secret is not None and not settings.webhook_url and not public_base_url:
        warnings.append(
            "HubSpot webhooks are refused until the panel knows their URL: set the webhook "
            "URL to the target URL entered in HubSpot (or have the host give its public "
            "base URL)."
        )
    return ConnectionResult(
        True,
        f"HubSpot connection successful (portal {account.portal_id}, region {account.region}, "
        f"API version {version.name}); ticket changes can come back by "
        f"{' or '.join(sync_modes(settings))}",
        portal_id=account.portal_id,
        region=account.region,
        warnings=tuple(warnings),
        api_version=version.name,
        api_version_ends=version.end_of_support.isoformat(),
        sync_modes=sync_modes(settings),
    )


def _pipeline_warnings(service: HubSpotService, settings: HubSpotSettings) -> list[str]:
    """HubSpot refuses a ticket whose stage is not in its pipeline: say so before one is sent
    (a pipeline or stage deleted in HubSpot since it was saved, too)."""
    try:
        pipelines = service.pipelines(api.TICKETS)
    except HubSpotError:
        return []  # the scope check above already speaks for the ticket scopes
    problems = pipeline_problems(
        pipelines, settings.ticket_pipeline, settings.ticket_stage, settings.ticket_status_stages
    )
    labels = {
        keys.TICKET_PIPELINE: "Ticket",
        keys.TICKET_STAGE: "Ticket",
        keys.TICKET_STATUS_STAGES: "Ticket status → stage table:",
    }
    return [
        f"{labels[key]} {message}; pick it again on the settings page."
        for key, message in problems.items()
    ]


def sync_modes(settings: HubSpotSettings) -> tuple[str, ...]:
    """How ticket changes can come back with what is saved: polling with any token (Service
    Keys have no webhooks), webhooks too once an app's client secret signs them."""
    return ("webhooks", "polling") if settings.app_secret is not None else ("polling",)


def _sync_warnings(settings: HubSpotSettings) -> list[str]:
    if settings.ticket_sync == "webhooks" and settings.app_secret is None:
        return [
            "Ticket changes are set to come back by webhooks, but no app client secret is "
            "saved: this credential supports polling only. Choose polling, or save the "
            "client secret of an app that sends webhooks."
        ]
    return []


def receiver_warnings(problem: str | None) -> list[str]:
    """Ticket changes made in HubSpot that nobody in the panel can receive (webhooks answer
    503, polling waits): what the host developer must fix."""
    if problem is None:
        return []
    return [f"Ticket changes made in HubSpot cannot reach the panel: {problem}."]


def _missing_scopes(
    service: HubSpotService, settings: HubSpotSettings, needed: tuple[str, ...]
) -> list[str]:
    """Asks HubSpot which scopes a private-app token has; probes read calls for other tokens."""
    if settings.token_kind == "private-app":
        try:
            granted = set(service.private_app_scopes())
        except (BadRequest, NotFound):
            pass  # HubSpot does not know it as a private-app token: probe instead
        else:
            return [s for s in needed if s not in granted]
    missing: list[str] = []
    probes = [(service.list_contacts, api.SCOPE_CONTACTS_READ)]
    if settings.ticket_enabled:
        probes.append((service.list_tickets, api.SCOPE_TICKETS))
    for probe, scope in probes:
        try:
            probe(limit=1)
        except MissingScopes as exc:
            missing.extend(s for s in (exc.scopes or [scope]) if s not in missing)
    return missing


def failure_message(exc: HubSpotError) -> str:
    """What an admin should read for a failed HubSpot call; never includes a secret.

    HubSpot's own words are kept where they say what to fix (a refused value, a missing
    object), scrubbed again here although :mod:`..hubspot.errors` scrubbed them as it read
    the answer: this text is shown to an admin, returned as JSON and printed by the CLI."""
    return scrub(_failure_message(exc))


def _failure_message(exc: HubSpotError) -> str:
    if isinstance(exc, InvalidToken):
        expired = exc.category == "EXPIRED_AUTHENTICATION"
        return (
            "HubSpot connection failed: Invalid API key. HubSpot says the access token is "
            + ("expired" if expired else "invalid or revoked")
            + "; copy a current token from your private app and save it again."
        )
    if isinstance(exc, MissingScopes):
        scopes = ", ".join(exc.scopes) or "unknown"
        return f"The token lacks scopes needed for this call: {scopes}. " + SCOPES_HELP
    if isinstance(exc, DailyLimitReached):
        return (
            "HubSpot's daily request limit for this portal is spent; it resets at "
            f"{exc.resets_at.isoformat(timespec='minutes')} (midnight, portal time)."
        )
    if isinstance(exc, RateLimited):
        wait = f" in {exc.retry_after:g} seconds" if exc.retry_after is not None else " shortly"
        return f"Rate limit exceeded: HubSpot is throttling this token; try again{wait}."
    if isinstance(exc, Unreachable):
        url = exc.url or api.DEFAULT_BASE_URL
        return f"{exc.message}. Check that this server can open connections to {url}."
    if isinstance(exc, ServerError):
        return f"HubSpot answered with an error (HTTP {exc.status}); try again later."
    return f"HubSpot refused the request (HTTP {exc.status}): {exc.message}"
