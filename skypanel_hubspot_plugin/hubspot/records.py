"""HubSpot's CRM records and batch answers as the plugin reads them, shared by the service
and the API areas mixed into it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
class Page:
    results: list[CrmObject]
    after: str | None


@dataclass(frozen=True)
class SearchPage:
    """One page of a CRM search: the records, the cursor of the next page, the match count."""

    results: list[CrmObject]
    after: str | None
    total: int


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


T = TypeVar("T")


def crm_object(obj: Any) -> CrmObject:
    """A record from the client's answer model."""
    return CrmObject(
        id=str(obj.id), properties=dict(obj.properties or {}), new=getattr(obj, "new", None)
    )


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    """``items`` in slices of at most ``size``, as HubSpot's batch limit allows."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def search_result(obj: Any) -> CrmObject:
    """A search result as HubSpot sent it; what does not have the expected shape gets an
    empty id and no properties, for the caller to skip (values are not checked here)."""
    if not isinstance(obj, dict):
        return CrmObject(id="", properties={})
    properties = obj.get("properties")
    object_id = obj.get("id")
    return CrmObject(
        id=object_id if isinstance(object_id, str) else "",
        properties=dict(properties) if isinstance(properties, dict) else {},
    )
