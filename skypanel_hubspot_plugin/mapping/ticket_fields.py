"""Panel ticket words → HubSpot's enum values, so HubSpot never refuses a ticket for them.

SkyPANEL sent lower-case priorities and department names as categories; HubSpot rejected
every such ticket. Here an unknown word falls back to a default instead of failing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.mapping.contact_fields import has_control_chars, mapped_properties
from skypanel_hubspot_plugin.payloads import Ticket
from skypanel_hubspot_plugin.settings.model import HubSpotSettings

PRIORITIES = {
    "low": "LOW",
    "minor": "LOW",
    "medium": "MEDIUM",
    "normal": "MEDIUM",
    "high": "HIGH",
    "urgent": "HIGH",
    "critical": "HIGH",
}
CATEGORIES = {
    "billing": "BILLING_ISSUE",
    "payment": "BILLING_ISSUE",
    "invoice": "BILLING_ISSUE",
    "feature": "FEATURE_REQUEST",
    "feature request": "FEATURE_REQUEST",
    "technical": "PRODUCT_ISSUE",
    "support": "PRODUCT_ISSUE",
    "product": "PRODUCT_ISSUE",
    "general": "GENERAL_INQUIRY",
    "sales": "GENERAL_INQUIRY",
}
HUBSPOT_CATEGORIES = ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")
#: Words a panel may use for a ticket's status → the four statuses the plugin maps to stages.
STATUS_WORDS = {
    "open": "open",
    "new": "open",
    "pending": "waiting",
    "waiting": "waiting",
    "answered": "waiting",
    "in_progress": "in_progress",
    "in progress": "in_progress",
    "closed": "closed",
    "resolved": "closed",
}
SUBJECT_MAX = 255
CONTENT_MAX = 65_000


def priority(word: str) -> str:
    return PRIORITIES.get(word.strip().lower(), "MEDIUM")


def category(word: str, default: str) -> str:
    upper = word.strip().upper()
    if upper in HUBSPOT_CATEGORIES:
        return upper
    return CATEGORIES.get(word.strip().lower(), default)


def stage(status: str, settings: HubSpotSettings) -> str | None:
    """The stage of the ticket pipeline a panel status maps to (the admin's table)."""
    word = STATUS_WORDS.get(status.strip().lower())
    return settings.ticket_status_stages.get(word) if word else None


def new_ticket_stage(status: str, settings: HubSpotSettings) -> str:
    """A new ticket's stage: the new-ticket stage setting, unless the panel opens it in
    another status than open (waiting, in_progress, closed), which the table maps."""
    word = STATUS_WORDS.get(status.strip().lower())
    if word is None or word == "open":
        return settings.ticket_stage
    return settings.ticket_status_stages.get(word) or settings.ticket_stage


def status_of_stage(settings: HubSpotSettings, stage_id: str) -> str | None:
    """The panel status of a stage, by the same table read backwards (the first status
    mapped to it when two share one stage); None for a stage the table does not name."""
    for status, mapped in settings.ticket_status_stages.items():
        if mapped == stage_id:
            return status
    return None


def ticket_properties(ticket: Ticket, settings: HubSpotSettings) -> dict[str, str]:
    """HubSpot properties for a new ticket; raises InvalidInput naming a bad field."""
    subject = ticket.subject.strip()
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = "is required"
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = f"must be at most {SUBJECT_MAX} characters"
    elif has_control_chars(subject):
        errors["subject"] = "must not contain control characters"
    content = ticket.content.replace("\x00", "")
    if len(content) > CONTENT_MAX:
        errors["content"] = f"must be at most {CONTENT_MAX} characters"
    extras: dict[str, str] = {}
    try:
        extras = ticket_extra_properties(ticket, settings.ticket_property_map)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return {
        **extras,
        "subject": subject,
        "content": content,
        "hs_ticket_priority": priority(ticket.priority),
        "hs_ticket_category": category(ticket.category, settings.ticket_default_category),
        "hs_pipeline": settings.ticket_pipeline,
        "hs_pipeline_stage": new_ticket_stage(ticket.status, settings),
    }


def ticket_extra_properties(
    ticket: Ticket, mapping: Mapping[str, str], only: Collection[str] | None = None
) -> dict[str, str]:
    """The properties the ticket property map fills from ``ticket.extra`` (just ``only``'s fields
    when given); raises InvalidInput naming each bad property."""
    chosen = {f: p for f, p in mapping.items() if only is None or f in only}
    return mapped_properties(ticket.extra.get, chosen)


def ticket_changes(
    ticket: Ticket, changed: frozenset[str], settings: HubSpotSettings
) -> dict[str, str]:
    """The HubSpot properties a panel ticket change touches (status → stage, priority)."""
    props: dict[str, str] = {}
    if "status" in changed and (mapped := stage(ticket.status, settings)):
        props["hs_pipeline_stage"] = mapped
    if "priority" in changed:
        props["hs_ticket_priority"] = priority(ticket.priority)
    if "subject" in changed and ticket.subject.strip():
        props["subject"] = ticket.subject.strip()[:SUBJECT_MAX]
    return props
