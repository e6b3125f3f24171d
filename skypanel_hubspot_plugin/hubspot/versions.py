"""HubSpot's API versions the plugin speaks, when each stops being supported, and their paths.

HubSpot names its REST API versions by date (``/crm/objects/2026-09/contacts``) since
March 2026, ships one every March and September, and supports each for at least 18 months.
The numbered paths (``/crm/v3/…``, ``/crm/v4/…``) go out of support on their own dates.
Every path the plugin calls is built here, from one :class:`ApiVersion`, so a change of
version is a change of one setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

#: The newest version HubSpot publishes as stable; what a fresh install uses.
DEFAULT_VERSION = "2026-09"

#: How long before its end of support the connection test starts warning.
WARN_DAYS = 183


@dataclass(frozen=True)
class ApiVersion:
    """One version the plugin can speak, with its end of support and where that date is from."""

    name: str
    end_of_support: date
    source: str
    #: Whether the visitor-identification body must carry ``hsCustomerAgentContext``
    #: (required by the v3 and 2026-03 specs, absent from 2026-09's).
    visitor_context_required: bool = False

    @property
    def legacy(self) -> bool:
        """True for the numbered paths (v3 objects, v4 associations)."""
        return self.name == "v3"

    def days_left(self, today: date) -> int:
        return (self.end_of_support - today).days

    def ending_soon(self, today: date) -> bool:
        """Within :data:`WARN_DAYS` of its end of support (or past it)."""
        return self.days_left(today) <= WARN_DAYS

    # -- paths -------------------------------------------------------------------------------

    def objects(self, object_type: str) -> str:
        """The collection of one CRM object type: list (GET) and create (POST)."""
        if self.legacy:
            return f"/crm/v3/objects/{_seg(object_type)}"
        return f"/crm/objects/{self.name}/{_seg(object_type)}"

    def search(self, object_type: str) -> str:
        """CRM search over one object type (POST with filter groups, sorts and paging)."""
        return f"{self.objects(object_type)}/search"

    def object(self, object_type: str, object_id: str) -> str:
        return f"{self.objects(object_type)}/{_seg(object_id)}"

    def batch(self, object_type: str, action: str) -> str:
        return f"{self.objects(object_type)}/batch/{_seg(action)}"

    def gdpr_delete(self) -> str:
        return f"{self.objects('contacts')}/gdpr-delete"

    def association(self, object_type: str, object_id: str, to_type: str, to_id: str) -> str:
        """The labelled association between two records (PUT with association specs)."""
        root = "/crm/v4/objects" if self.legacy else f"/crm/objects/{self.name}"
        return (
            f"{root}/{_seg(object_type)}/{_seg(object_id)}/associations/"
            f"{_seg(to_type)}/{_seg(to_id)}"
        )

    def associations_batch_read(self, object_type: str, to_type: str) -> str:
        """Many records' associations to one type at once (POST with their ids)."""
        root = "/crm/v4/associations" if self.legacy else f"/crm/associations/{self.name}"
        return f"{root}/{_seg(object_type)}/{_seg(to_type)}/batch/read"

    def properties(self, object_type: str) -> str:
        if self.legacy:
            return f"/crm/v3/properties/{_seg(object_type)}"
        return f"/crm/properties/{self.name}/{_seg(object_type)}"

    def property(self, object_type: str, name: str) -> str:
        return f"{self.properties(object_type)}/{_seg(name)}"

    def pipelines(self, object_type: str) -> str:
        if self.legacy:
            return f"/crm/v3/pipelines/{_seg(object_type)}"
        return f"/crm/pipelines/{self.name}/{_seg(object_type)}"

    def account_details(self) -> str:
        return f"/account-info/{self.name}/details"

    def visitor_token(self) -> str:
        return f"/visitor-identification/{self.name}/tokens/create"


def _seg(value: str) -> str:
    """One path segment, percent-encoded, so an id can never add a segment of its own."""
    return quote(value, safe="")


#: Newest first. Dates: HubSpot's developer changelog ("Introducing date-based API
#: versioning": a version is supported for at least 18 months after its release; "Legacy
#: APIs and apps: what's going unsupported and when": /crm/v4/ ends 2027-03-30, /v1/-/v3/
#: in September 2027). The legacy entry uses /crm/v4/ for associations, so v4's date binds.
VERSIONS: tuple[ApiVersion, ...] = (
    ApiVersion(
        "2026-09",
        date(2028, 3, 8),
        "released 2026-09-08, supported at least 18 months (developer changelog)",
    ),
    ApiVersion(
        "2026-03",
        date(2027, 9, 30),
        "released 2026-03-30, supported at least 18 months (developer changelog)",
        visitor_context_required=True,
    ),
    ApiVersion(
        "v3",
        date(2027, 3, 30),
        "numbered paths: /crm/v4/ (associations) unsupported from 2027-03-30, "
        "/v3/ from September 2027 (developer changelog)",
        visitor_context_required=True,
    ),
)

SUPPORTED = tuple(v.name for v in VERSIONS)
_BY_NAME = {v.name: v for v in VERSIONS}


class UnknownApiVersion(ValueError):
    """A version name the plugin does not speak."""


def version_named(name: str | None) -> ApiVersion:
    """The version called ``name`` (the default for None or empty); raises UnknownApiVersion."""
    key = (name or DEFAULT_VERSION).strip().lower()
    if key in ("v4", "legacy"):
        key = "v3"
    found = _BY_NAME.get(key)
    if found is None:
        raise UnknownApiVersion(
            f"HubSpot API version must be one of {', '.join(SUPPORTED)}, not {name!r}"
        )
    return found
