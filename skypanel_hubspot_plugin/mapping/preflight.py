"""Before a contact backfill: which panel users HubSpot would refuse, found without a write.

``skypanel-hubspot sync-contacts --check`` and the settings page's "Check first" read the
panel's users (the host's ``list_users``) and the portal's contact property definitions
(``GET /crm/properties/<version>/contacts``, the one HubSpot request made) and report
each user whose mapped values HubSpot would refuse:

- **missing required**: no usable email, which HubSpot matches contacts by;
- **invalid value**: a value the plugin itself parks before sending (too long, control
  characters, not text);
- **unknown property**: the map names a property the portal does not have;
- **read-only**: HubSpot computes or keeps the property itself;
- **wrong type**: a number, bool, date or date-time property given text of another shape;
- **unknown option**: a dropdown given a value that is not one of its options.

Rules a portal's admin sets on writes (conditionally required properties, the record
creation form's required fields), which HubSpot enforces from API version 2026-09, are not
served by any HubSpot API, so no check can list them: a write one refuses is parked with a
reason naming the rule and the property (see docs/admin-guide.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo
from skypanel_hubspot_plugin.mapping.contact_fields import user_contact_properties
from skypanel_hubspot_plugin.mapping.property_cache import CACHE, PropertyCache
from skypanel_hubspot_plugin.mapping.property_map_check import (
    MAX_LISTED_OPTIONS,
    TEXT_TYPES,
    TYPE_WORDS,
    VALUE_RULES,
)
from skypanel_hubspot_plugin.payloads import ListUsers, User
from skypanel_hubspot_plugin.settings.property_map import quoted

if TYPE_CHECKING:
    from skypanel_hubspot_plugin.hubspot.service import HubSpotService

#: Problems listed by default; the counts cover every user.
SHOWN = 20
MAX_SHOWN = 1000
PAGE_SIZE = 500

MISSING_REQUIRED = "missing required"
INVALID_VALUE = "invalid value"
UNKNOWN_PROPERTY = "unknown property"
READ_ONLY = "read-only"
WRONG_TYPE = "wrong type"
UNKNOWN_OPTION = "unknown option"
KINDS = (MISSING_REQUIRED, INVALID_VALUE, UNKNOWN_PROPERTY, READ_ONLY, WRONG_TYPE, UNKNOWN_OPTION)

NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATETIME_RE = re.compile(r"[0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9:]+)?)?")
BOOLS = frozenset({"true", "false"})


@dataclass(frozen=True)
class Problem:
    """One value HubSpot would refuse: whose, which property, what kind, and why."""

    user_id: str
    property: str
    kind: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {
            "userId": self.user_id,
            "property": self.property,
            "kind": self.kind,
            "detail": self.detail,
        }

    def line(self) -> str:
        return f"user {self.user_id}: {self.property}: {self.kind} — {self.detail}"


@dataclass
class Preflight:
    """What a check found: counts over every user, and the first ``shown`` problems."""

    shown: int = SHOWN
    users: int = 0
    refused_users: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    problems: list[Problem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, problems: list[Problem]) -> None:
        self.users += 1
        if problems:
            self.refused_users += 1
        for problem in problems:
            self.counts[problem.kind] += 1
            if len(self.problems) < self.shown:
                self.problems.append(problem)

    def as_json(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "refusedUsers": self.refused_users,
            "problemCount": self.total,
            "counts": dict(self.counts),
            "problems": [p.as_json() for p in self.problems],
        }

    def lines(self) -> Iterator[str]:
        """The report as the command line prints it."""
        yield (
            f"Checked {self.users} users: {self.refused_users} would be refused by HubSpot "
            f"({self.total} problems)."
        )
        for kind in KINDS:
            if self.counts[kind]:
                yield f"  {kind}: {self.counts[kind]}"
        if self.problems:
            more = self.total - len(self.problems)
            yield f"First {len(self.problems)} problems:" if more else "Problems:"
            yield from (f"  {p.line()}" for p in self.problems)
            if more:
                yield f"  … and {more} more"


def value_problem(prop: PropertyInfo, value: str) -> tuple[str, str] | None:
    """Why HubSpot would refuse ``value`` for ``prop``, as (kind, detail); None if it would not."""
    if prop.read_only:
        return READ_ONLY, f"HubSpot sets {quoted(prop.name)} itself"
    if prop.type in TEXT_TYPES:
        return None
    if prop.type == "enumeration":
        values = value.split(";") if prop.field_type == "checkbox" else [value]
        bad = [v for v in values if v not in prop.options]
        if not bad:
            return None
        shown = ", ".join(quoted(o) for o in prop.options[:MAX_LISTED_OPTIONS])
        return UNKNOWN_OPTION, f"{quoted(bad[0])} is not one of its options ({shown})"
    shapes = {
        "number": NUMBER_RE.fullmatch(value) is not None,
        "bool": value in BOOLS,
        "date": DATE_RE.fullmatch(value) is not None,
        "datetime": DATETIME_RE.fullmatch(value) is not None,
    }
    if shapes.get(prop.type, True):
        return None
    words = TYPE_WORDS.get(prop.type, prop.type)
    return WRONG_TYPE, f"{quoted(value)} is not {words}: {VALUE_RULES[prop.type]}"


def user_problems(
    user: User, mapping: Mapping[str, str], properties: Mapping[str, PropertyInfo]
) -> list[Problem]:
    """What HubSpot would refuse of ``user``'s contact under ``mapping``."""
    problems: list[Problem] = []
    try:
        contact = user_contact_properties(user, mapping)
    except InvalidInput as exc:
        for name, why in exc.errors.items():
            kind = MISSING_REQUIRED if name == "email" else INVALID_VALUE
            problems.append(Problem(user.id, name, kind, why))
        return problems
    for name, value in contact.items():
        prop = properties.get(name)
        if prop is None:
            problems.append(
                Problem(user.id, name, UNKNOWN_PROPERTY, "HubSpot has no contact property so named")
            )
        elif (found := value_problem(prop, value)) is not None:
            problems.append(Problem(user.id, name, *found))
    return problems


def check_users(
    service: HubSpotService,
    list_users: ListUsers,
    mapping: Mapping[str, str],
    *,
    shown: int = SHOWN,
    page_size: int = PAGE_SIZE,
    cache: PropertyCache = CACHE,
) -> Preflight:
    """Checks every panel user against the portal's contact properties; sends no write.

    Raises HubSpotError when HubSpot cannot be asked for the property definitions.
    """
    properties, cached = cache.get(service, "contacts")
    if cached and any(name not in properties for name in mapping.values()):
        properties, _ = cache.get(service, "contacts", fresh=True)
    report = Preflight(shown=shown)
    after: str | None = None
    while True:
        users = list(list_users(after, page_size))
        if not users:
            return report
        for user in users:
            report.add(user_problems(user, mapping, properties))
        after = users[-1].id
