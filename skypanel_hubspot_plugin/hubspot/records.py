"""HubSpot's CRM records and batch answers as the plugin reads them, shared by the service
and the API areas mixed into it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skypanel_hubspot_plugin.hubspot.errors import naming_properties

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
    """One input of a batch that HubSpot refused, with its message and the ids it names."""

    message: str
    category: str | None
    ids: tuple[str, ...]


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
    ids = (
        tuple(str(i) for i in context.get("ids", []) if i is not None)
        if isinstance(context, dict)
        else ()
    )
    details = [d for d in err.get("errors") or [] if isinstance(d, dict)]
    message = naming_properties(str(err.get("message") or ""), details)
    return BatchError(message=message, category=err.get("category"), ids=ids)
