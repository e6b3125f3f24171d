"""Which HubSpot API area a request path belongs to: a label from a fixed list.

Paths can carry ids, or an email where a contact is read by it, so a path is never a
label itself: only its fixed segments decide, and anything unknown is ``other``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

CRM_OBJECTS = ("contacts", "tickets")
#: First path segment → area, for the paths outside /crm/.
OUTSIDE_CRM = {
    "oauth": "token_info",
    "account-info": "account",
    "visitor-identification": "visitor_identification",
    "submissions": "forms",
}
AREAS = (
    *CRM_OBJECTS,
    "associations",
    "search",
    "properties",
    "pipelines",
    "objects",
    *OUTSIDE_CRM.values(),
    "other",
)


def area_of(path: str) -> str:
    """``contacts``, ``tickets``, ``associations``, ``search``, ``properties``, ``pipelines``,
    ``token_info``, ``account``, ``visitor_identification``, ``forms`` or ``other``."""
    parts = [p for p in urlsplit(path).path.split("/") if p]
    if not parts:
        return "other"
    if parts[0] != "crm":
        return OUTSIDE_CRM.get(parts[0], "other")
    rest = parts[1:]
    if rest and rest[0] in ("v3", "v4"):  # /crm/v3/objects/contacts/...
        kind, tail = (rest[1] if len(rest) > 1 else ""), rest[2:]
    else:  # /crm/objects/2026-09/contacts/...: the version follows the kind
        kind, tail = (rest[0] if rest else ""), rest[2:]
    if kind == "objects":
        if len(tail) > 2 and tail[2] == "associations":
            return "associations"
        if len(tail) == 2 and tail[1] == "search":
            return "search"
        return tail[0] if tail and tail[0] in CRM_OBJECTS else "objects"
    if kind in ("properties", "pipelines", "associations"):
        return kind
    return "other"


def status_of(status: int | None) -> str:
    """An answer's status label: the HTTP code of a refusal, ``unreachable`` without one."""
    if status is None or status == 0:
        return "unreachable"
    return str(status) if 100 <= status <= 599 else "other"
