"""The fake HubSpot's CRM: contacts, tickets, engagements (emails and notes), associations
and property definitions, in memory.

It applies HubSpot's rules that the plugin must respect: unique contact email and
unique-value properties (409 ``OBJECT_ALREADY_EXISTS`` with "Existing ID: N"), enumeration
options (a lower-case priority is refused), known property names, read-only properties,
numbers, required ticket properties, a ticket's stage belonging to its pipeline, email
syntax, and (on the API versions that enforce them) the portal admin's rules of
:mod:`.fake_rules`. A write with refused values is one 400 ``VALIDATION_ERROR`` listing every refused
value, as HubSpot's does: in ``errors[]`` and as the JSON array HubSpot embeds in its message.
Records are found by a unique property through an index
(as HubSpot does), so a lookup costs the same with 100 contacts as with 100,000.
Every method is called with the server's lock held.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .fake_engagement_rules import (
    ENGAGEMENT_ASSOCIATION_TYPES,
    ENGAGEMENT_TYPES,
    engagement_problem,
    header_properties,
)
from .fake_errors import CrmError, Refusal, already_exists, not_found, refused, validation_error
from .fake_rules import WriteRule, enforces_rules, refusal
from .fake_schema import default_pipelines, default_properties, now_iso

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")

OBJECT_TYPES = ("contacts", "tickets", *ENGAGEMENT_TYPES)
ASSOCIATION_TYPES = {
    ("tickets", "contacts"): 16,
    ("contacts", "tickets"): 15,
    **ENGAGEMENT_ASSOCIATION_TYPES,
}
#: Each object type's creation and modification time properties.
STAMPS = {
    "contacts": ("createdate", "lastmodifieddate"),
    "tickets": ("createdate", "hs_lastmodifieddate"),
    **{t: ("hs_createdate", "hs_lastmodifieddate") for t in ENGAGEMENT_TYPES},
}
#: Properties a new record of a type must have.
REQUIRED = {"tickets": ("subject", "hs_pipeline_stage")}


@dataclass
class CrmStore:
    properties: dict[str, dict[str, dict[str, Any]]] = field(default_factory=default_properties)
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {t: {} for t in OBJECT_TYPES}
    )
    associations: set[tuple[str, str, str, str]] = field(default_factory=set)
    pipelines: dict[str, dict[str, dict[str, Any]]] = field(default_factory=default_pipelines)
    next_id: int = 1001
    #: (object type, unique property) → value → id of the live record holding it.
    index: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: (object type, id) → its versions, oldest first, each with the monotonic time it was
    #: written: what HubSpot's search index shows lags behind (see :meth:`indexed`).
    versions: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]] = field(
        default_factory=dict
    )
    #: (object type, id) → the properties the record was created with.
    first_versions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: The modification time stamped on writes; a test may fix it to play ties.
    clock: Callable[[], str] = now_iso
    #: The portal admin's rules on writes (see :mod:`.fake_rules`).
    rules: list[WriteRule] = field(default_factory=list)
    #: Whether the request being handled is held to ``rules`` (its API version enforces them).
    enforcing: bool = False

    @contextmanager
    def writing_as(self, api_version: str | None) -> Iterator[None]:
        """Handles one request of ``api_version``: its writes are held to the portal's rules
        when that version enforces them. Called with the server's lock held."""
        self.enforcing = enforces_rules(api_version)
        try:
            yield
        finally:
            self.enforcing = False

    def check_rules(
        self, object_type: str, props: dict[str, Any], before: dict[str, Any] | None
    ) -> None:
        """HubSpot's 400 for a write breaking the portal's rules, on versions enforcing them."""
        if not (self.enforcing and self.rules):
            return
        body = refusal(self.rules, object_type, props, before)
        if body is not None:
            raise CrmError(400, body)

    #: While a batch is applied whole or not at all (:meth:`all_or_nothing`): how to undo
    #: each write made so far, oldest first.
    journal: list[Callable[[], None]] | None = None

    @contextmanager
    def all_or_nothing(self) -> Iterator[None]:
        """Applies the writes made inside whole, or none of them when one is refused.

        HubSpot answers a batch it refuses with one error and applies none of its inputs
        (partial success exists only for batch creates whose inputs all carry an
        ``objectWriteTraceId``), so the inputs written before the refused one are undone.
        """
        self.journal, next_id = [], self.next_id
        try:
            yield
        except CrmError:
            for undo in reversed(self.journal):
                undo()
            self.next_id = next_id
            raise
        finally:
            self.journal = None

    # -- properties --------------------------------------------------------------------------

    def check_properties(
        self,
        object_type: str,
        props: dict[str, Any],
        current_id: str | None = None,
        also: Sequence[Refusal] = (),
    ) -> None:
        """Raises HubSpot's 400 listing every refused value (with ``also``, refusals the
        caller found), else its 409 when a unique value belongs to another record."""
        refusals = [*self.refusals(object_type, props), *also]
        if refusals:
            raise validation_error(refusals)
        for name, value in props.items():
            if value and self.properties[object_type][name]["hasUniqueValue"]:
                holder = self.find_by(object_type, name, value)
                if holder is not None and holder["id"] != current_id:
                    shown = value.lower() if name == "email" else value
                    raise already_exists(object_type, name, shown, holder["id"])

    def refusals(self, object_type: str, props: dict[str, Any]) -> list[Refusal]:
        """What HubSpot refuses in ``props``, one entry per refused value, in their order."""
        known = self.properties[object_type]
        found: list[Refusal] = []
        for name, value in props.items():
            if name not in known:
                found.append(
                    Refusal(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if value is None:
                continue
            if not isinstance(value, str):
                found.append(Refusal(name, "INVALID_TYPE", f"{name} must be a string"))
                continue
            problem = _value_problem(known[name], value)
            if problem is not None:
                found.append(Refusal(name, *problem))
        return found

    def find_by(self, object_type: str, name: str, value: str) -> dict[str, Any] | None:
        """The live record whose unique property ``name`` holds ``value``, in constant time."""
        definition = self.properties[object_type].get(name)
        if definition is None or not definition["hasUniqueValue"]:
            return None  # HubSpot looks records up only by unique properties
        found = self.index.get((object_type, name), {}).get(_key(name, value))
        return self.objects[object_type].get(found) if found is not None else None

    def _reindex(self, object_type: str, obj: dict[str, Any], live: bool) -> None:
        for name, definition in self.properties[object_type].items():
            if not definition["hasUniqueValue"]:
                continue
            value = obj["properties"].get(name)
            if not value:
                continue
            values = self.index.setdefault((object_type, name), {})
            if live:
                values[_key(name, value)] = obj["id"]
            elif values.get(_key(name, value)) == obj["id"]:
                del values[_key(name, value)]

    def check_pipeline(self, props: dict[str, Any], current: dict[str, Any] | None) -> None:
        """A ticket's stage must be a stage of its pipeline, as HubSpot requires."""
        before = current["properties"] if current else {}
        pipeline_id = props.get("hs_pipeline") or before.get("hs_pipeline") or "0"
        stage = props.get("hs_pipeline_stage") or before.get("hs_pipeline_stage")
        if "hs_pipeline" not in props and "hs_pipeline_stage" not in props:
            return
        pipeline = self.pipelines["tickets"].get(str(pipeline_id))
        if pipeline is None:
            raise refused("hs_pipeline", "INVALID_OPTION", f"{pipeline_id} is not a valid pipeline")
        stages = [s["id"] for s in pipeline["stages"]]
        if stage is not None and str(stage) not in stages:
            raise refused(
                "hs_pipeline_stage",
                "INVALID_OPTION",
                f"{stage} is not a valid pipeline stage of pipeline {pipeline_id}; "
                f"its stages are {stages}",
            )

    def check_engagement(self, object_type: str, props: dict[str, Any], *, creating: bool) -> None:
        """An email or note needs a valid ``hs_timestamp``; an email's headers are JSON."""
        bad = engagement_problem(object_type, props, creating)
        if bad is not None:
            raise refused(bad, "INVALID_PROPERTY", f"{bad} is missing or not valid")

    # -- objects -------------------------------------------------------------------------------

    def create(self, object_type: str, props: dict[str, Any]) -> dict[str, Any]:
        props = {k: v for k, v in props.items() if v is not None}
        missing = [
            Refusal(name, "REQUIRED_PROPERTY", f"{name} is required")
            for name in REQUIRED.get(object_type, ())
            if not props.get(name)
        ]
        self.check_properties(object_type, props, also=missing)
        self.check_rules(object_type, props, None)
        if object_type == "tickets":
            self.check_pipeline(props, None)
        if object_type in ENGAGEMENT_TYPES:
            self.check_engagement(object_type, props, creating=True)
        if object_type == "contacts" and "email" in props:
            props["email"] = props["email"].lower()
        stamp = self.clock()
        created, modified = STAMPS[object_type]
        obj: dict[str, Any] = {
            "id": str(self.next_id),
            "properties": {
                **props,
                **(header_properties(props) if object_type == "emails" else {}),
                "hs_object_id": str(self.next_id),
                created: stamp,
                modified: stamp,
            },
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        self.next_id += 1
        self.objects[object_type][obj["id"]] = obj
        self.first_versions[(object_type, obj["id"])] = dict(obj["properties"])
        self._reindex(object_type, obj, live=True)
        self._version(object_type, obj)
        if self.journal is not None:
            self.journal.append(lambda: self._uncreate(object_type, obj))
        return obj

    def _uncreate(self, object_type: str, obj: dict[str, Any]) -> None:
        self._reindex(object_type, obj, live=False)
        del self.objects[object_type][obj["id"]]
        self.versions.pop((object_type, obj["id"]), None)

    def _restore(
        self, object_type: str, obj: dict[str, Any], before: dict[str, Any], kept: int
    ) -> None:
        """Puts ``obj`` back as it was (``before``, a deep copy) with its first ``kept``
        versions only."""
        self._reindex(object_type, obj, live=False)
        obj.clear()
        obj.update(before)
        self._reindex(object_type, obj, live=True)
        del self.versions.get((object_type, obj["id"]), [])[kept:]

    def get(
        self, object_type: str, object_id: str, id_property: str | None = None
    ) -> dict[str, Any]:
        if id_property and id_property != "hs_object_id":
            obj = self.find_by(object_type, id_property, object_id)
        else:
            obj = self.objects[object_type].get(object_id)
        if obj is None or obj["archived"]:
            raise not_found(object_type, object_id)
        return obj

    def update(
        self,
        object_type: str,
        object_id: str,
        props: dict[str, Any],
        id_property: str | None = None,
    ) -> dict[str, Any]:
        obj = self.get(object_type, object_id, id_property)
        self.check_properties(object_type, props, current_id=obj["id"])
        self.check_rules(object_type, props, obj["properties"])
        if object_type == "tickets":
            self.check_pipeline(props, obj)
        if self.journal is not None:
            before = copy.deepcopy(obj)
            kept = len(self.versions.get((object_type, obj["id"]), []))
            self.journal.append(lambda: self._restore(object_type, obj, before, kept))
        if object_type in ENGAGEMENT_TYPES:
            self.check_engagement(object_type, props, creating=False)
        self._reindex(object_type, obj, live=False)
        obj["properties"].update({k: v for k, v in props.items() if v is not None})
        if object_type == "emails":
            obj["properties"].update(header_properties(obj["properties"]))
        self._reindex(object_type, obj, live=True)
        obj["updatedAt"] = stamp = self.clock()
        obj["properties"][STAMPS[object_type][1]] = stamp
        self._version(object_type, obj)
        return obj

    def archive(self, object_type: str, object_id: str) -> None:
        obj = self.objects[object_type].get(object_id)
        if obj is not None:
            obj["archived"] = True
            obj["archivedAt"] = now_iso()
            self._reindex(object_type, obj, live=False)
            self._version(object_type, obj)

    def _version(self, object_type: str, obj: dict[str, Any]) -> None:
        self.versions.setdefault((object_type, obj["id"]), []).append(
            (time.monotonic(), {**obj, "properties": dict(obj["properties"])})
        )

    def indexed(self, object_type: str, horizon: float) -> list[dict[str, Any]]:
        """The live records as the search index shows them: each one's newest version
        written before ``horizon`` (a monotonic time), so a write made later is not seen
        yet, and an older version still is. Versions no search can show again are dropped."""
        found = []
        for (kind, _id), versions in self.versions.items():
            if kind != object_type:
                continue
            visible = [i for i, (at, _) in enumerate(versions) if at <= horizon]
            if not visible:
                continue
            del versions[: visible[-1]]  # keep the newest visible one and what follows
            snapshot = versions[0][1]
            if not snapshot["archived"]:
                found.append(snapshot)
        return found

    def purge(self, object_type: str, object_id: str, id_property: str | None = None) -> None:
        obj = self.get(object_type, object_id, id_property)
        self._reindex(object_type, obj, live=False)
        del self.objects[object_type][obj["id"]]
        self.versions.pop((object_type, obj["id"]), None)
        self.first_versions.pop((object_type, obj["id"]), None)
        self.associations = {
            a
            for a in self.associations
            if (a[0], a[1]) != (object_type, obj["id"]) and (a[2], a[3]) != (object_type, obj["id"])
        }

    def upsert(
        self, object_type: str, id_value: str, id_property: str, props: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        existing = self.find_by(object_type, id_property, id_value)
        if existing is not None:
            return self.update(object_type, existing["id"], props), False
        return self.create(object_type, {**props, id_property: id_value}), True

    def live(self, object_type: str) -> list[dict[str, Any]]:
        return [o for o in self.objects[object_type].values() if not o["archived"]]

    # -- associations --------------------------------------------------------------------------

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.get(from_type, from_id)
        self.get(to_type, to_id)
        self.associations.add((from_type, from_id, to_type, to_id))
        self.associations.add((to_type, to_id, from_type, from_id))

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        return sorted(
            (
                a[3]
                for a in self.associations
                if (a[0], a[1], a[2]) == (from_type, from_id, to_type)
            ),
            key=int,
        )

    def snapshot(self, obj: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(obj)


def _value_problem(definition: dict[str, Any], value: str) -> tuple[str, str] | None:
    """HubSpot's error code and message for ``value`` of the property ``definition``, if refused."""
    name = definition["name"]
    if definition["modificationMetadata"]["readOnlyValue"]:
        return "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
    if definition["type"] == "number" and value != "" and not NUMBER_RE.fullmatch(value):
        return "INVALID_DOUBLE", f"{value} was not a valid number for {name}."
    if definition["type"] == "enumeration" and value != "":
        allowed = [o["value"] for o in definition["options"]]
        values = value.split(";") if definition["fieldType"] == "checkbox" else [value]
        bad = [v for v in values if v not in allowed]
        if bad:
            return (
                "INVALID_OPTION",
                f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]",
            )
    if name == "email" and value and not EMAIL_RE.fullmatch(value):
        return "INVALID_EMAIL", f"Email address {value} is invalid"
    return None


def _key(name: str, value: str) -> str:
    """Emails are unique whatever their case; other unique values are compared as written."""
    return value.lower() if name == "email" else value
