"""HubSpot's CRM records and batch answers as the plugin reads them, shared by the service
and the API areas mixed into it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.hubspot.errors import EXISTING_ID_RE, naming_properties

#: An answer's model by status (None: no body), as the generated ApiClient takes it.
Answers = Mapping[int, str | None]


@dataclass(frozen=True)
class CrmObject:
    """A contact or ticket as HubSpot returned it."""

    id: str
    properties: dict[str, str | None]
    new: bool | None = None


@dataclass(frozen=True)
class BatchError:
    """One input of a batch that HubSpot refused, with its message and the ids it names
    (``trace_ids``: the objectWriteTraceId of a refused input of a batch create)."""

    message: str
    category: str | None
    ids: tuple[str, ...]
    trace_ids: tuple[str, ...] = ()

    @property
    def existing_id(self) -> str | None:
        """The record already holding the input's unique value (a 409-type refusal)."""
        match = EXISTING_ID_RE.search(self.message)
        return match.group(1) if match else None


@dataclass(frozen=True)
class BatchResult:
    results: list[CrmObject] = field(default_factory=list)
    errors: list[BatchError] = field(default_factory=list)


def crm_object_json(obj: Mapping[str, Any]) -> CrmObject:
    return CrmObject(
        id=str(obj["id"]), properties=dict(obj.get("properties") or {}), new=obj.get("new")
    )


def batch_error(err: Mapping[str, Any]) -> BatchError:
    context = err.get("context") or {}
    context = context if isinstance(context, dict) else {}

    def named(key: str) -> tuple[str, ...]:
        values = context.get(key)
        return tuple(str(i) for i in values if i is not None) if isinstance(values, list) else ()

    details = [d for d in err.get("errors") or [] if isinstance(d, dict)]
    message = naming_properties(scrub(str(err.get("message") or "")), details)
    return BatchError(
        message=message,
        category=err.get("category"),
        ids=named("ids"),
        trace_ids=named("objectWriteTraceId"),
    )
