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
STAGES = {
    "open": "1",
    "new": "1",
    "pending": "2",
    "waiting": "2",
    "answered": "2",
    "in_progress": "3",
    "in progress": "3",
    "closed": "4",
    "resolved": "4",
}
#: The default pipeline's stages in the panel's words, for changes made in HubSpot.
STAGE_STATUSES = {"1": "open", "2": "waiting", "3": "in_progress", "4": "closed"}
SUBJECT_MAX = 255
CONTENT_MAX = 65_000


def priority(word: str) -> str:
    return PRIORITIES.get(word.strip().lower(), "MEDIUM")


def category(word: str, default: str) -> str:
    upper = word.strip().upper()
    if upper in HUBSPOT_CATEGORIES:
        return upper
    return CATEGORIES.get(word.strip().lower(), default)


def stage(status: str) -> str | None:
    return STAGES.get(status.strip().lower())


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
        "hs_pipeline_stage": stage(ticket.status) or settings.ticket_stage,
    }


def ticket_extra_properties(
    ticket: Ticket, mapping: Mapping[str, str], only: Collection[str] | None = None
) -> dict[str, str]:
    """The properties the ticket property map fills from ``ticket.extra`` (just ``only``'s fields
    when given); raises InvalidInput naming each bad property."""
    chosen = {f: p for f, p in mapping.items() if only is None or f in only}
    return mapped_properties(ticket.extra.get, chosen)


def ticket_changes(ticket: Ticket, changed: frozenset[str]) -> dict[str, str]:
    """The HubSpot properties a panel ticket change touches (status → stage, priority)."""
    props: dict[str, str] = {}
    if "status" in changed and (mapped := stage(ticket.status)):
        props["hs_pipeline_stage"] = mapped
    if "priority" in changed:
        props["hs_ticket_priority"] = priority(ticket.priority)
    if "subject" in changed and ticket.subject.strip():
        props["subject"] = ticket.subject.strip()[:SUBJECT_MAX]
    return props
