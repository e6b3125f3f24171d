"""The fake HubSpot's CRM: contacts, tickets, engagements (emails and notes), associations
and property definitions, in memory.

It applies HubSpot's rules that the plugin must respect: unique contact email (409 with
"Existing ID: N"), unique-value properties, enumeration options (a lower-case priority
is refused), known property names, required ticket properties, a ticket's stage belonging
to its pipeline, and email syntax. Records are found by a unique property through an index
(as HubSpot does), so a lookup costs the same with 100 contacts as with 100,000.
Every method is called with the server's lock held.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skypanel_hubspot_plugin.common import clock

from .fake_engagement_rules import (
    ENGAGEMENT_ASSOCIATION_TYPES,
    ENGAGEMENT_TYPES,
    engagement_problem,
    engagement_properties,
    header_properties,
)

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


def now_iso() -> str:
    """HubSpot's timestamp format: ISO 8601, milliseconds, ``Z``; on the plugin's clock, so a
    test that moves it (the kit's ``advance``) moves HubSpot's modification times too."""
    return clock.utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _prop(
    name: str,
    label: str,
    *,
    type_: str = "string",
    field_type: str = "text",
    options: list[tuple[str, str]] | None = None,
    unique: bool = False,
    group: str = "info",
    read_only: bool = False,
    calculated: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": unique,
        "hidden": False,
        "formField": True,
        "archived": False,
        "createdAt": "2020-01-01T00:00:00.000Z",
        "updatedAt": "2020-01-01T00:00:00.000Z",
        "modificationMetadata": {
            "archivable": not (read_only or calculated),
            "readOnlyDefinition": read_only or calculated,
            "readOnlyValue": read_only or calculated,
        },
        "options": [
            {"label": lab, "value": val, "displayOrder": i, "hidden": False}
            for i, (val, lab) in enumerate(options or [])
        ],
    }


def _read_only_properties() -> list[dict[str, Any]]:
    """What HubSpot sets on every record itself; a write to one is refused (READ_ONLY_VALUE)."""
    return [
        _prop("hs_object_id", "Record ID", type_="number", field_type="number", read_only=True),
        _prop("createdate", "Create Date", type_="datetime", field_type="date", read_only=True),
        _prop(
            "lastmodifieddate",
            "Last Modified Date",
            type_="datetime",
            field_type="date",
            read_only=True,
        ),
    ]


def default_properties() -> dict[str, dict[str, dict[str, Any]]]:
    contacts = [
        _prop("email", "Email", unique=True),
        _prop("firstname", "First Name"),
        _prop("lastname", "Last Name"),
        _prop("company", "Company Name"),
        _prop("phone", "Phone Number", field_type="phonenumber"),
        _prop("website", "Website URL"),
        _prop(
            "lifecyclestage",
            "Lifecycle Stage",
            type_="enumeration",
            field_type="select",
            options=[("subscriber", "Subscriber"), ("lead", "Lead"), ("customer", "Customer")],
        ),
        _prop(
            "hs_lead_status",
            "Lead Status",
            type_="enumeration",
            field_type="select",
            options=[("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress")],
        ),
        _prop("total_revenue", "Total Revenue", type_="number", field_type="number"),
        *_read_only_properties(),
        _prop(
            "num_associated_deals",
            "Number of Associated Deals",
            type_="number",
            field_type="number",
            calculated=True,
        ),
    ]
    tickets = [
        _prop("subject", "Ticket name"),
        _prop("content", "Ticket description", field_type="textarea"),
        _prop(
            "hs_pipeline",
            "Pipeline",
            type_="enumeration",
            field_type="select",
            options=[("0", "Support Pipeline")],
        ),
        _prop(
            "hs_pipeline_stage",
            "Ticket status",
            type_="enumeration",
            field_type="select",
            options=[
                ("1", "New"),
                ("2", "Waiting on contact"),
                ("3", "Waiting on us"),
                ("4", "Closed"),
            ],
        ),
        _prop(
            "hs_ticket_priority",
            "Priority",
            type_="enumeration",
            field_type="select",
            options=[("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"), ("URGENT", "Urgent")],
        ),
        _prop(
            "hs_ticket_category",
            "Category",
            type_="enumeration",
            field_type="checkbox",
            options=[
                ("PRODUCT_ISSUE", "Product issue"),
                ("BILLING_ISSUE", "Billing issue"),
                ("FEATURE_REQUEST", "Feature request"),
                ("GENERAL_INQUIRY", "General inquiry"),
            ],
        ),
        *_read_only_properties(),
        _prop(
            "hs_lastmodifieddate",
            "Last Modified Date",
            type_="datetime",
            field_type="date",
            read_only=True,
        ),
    ]
    return {
        "contacts": {p["name"]: p for p in contacts},
        "tickets": {p["name"]: p for p in tickets},
        **engagement_properties(_prop),
    }


class CrmError(Exception):
    """An error answer: HTTP status and HubSpot's JSON body (without correlationId)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def validation_error(message: str, code: str, prop: str) -> CrmError:
    return CrmError(
        400,
        {
            "status": "error",
            "message": f"Property values were not valid: {message}",
            "category": "VALIDATION_ERROR",
            "errors": [{"message": message, "code": code, "context": {"propertyName": [prop]}}],
        },
    )


def not_found(object_type: str, object_id: str) -> CrmError:
    return CrmError(
        404,
        {
            "status": "error",
            "message": "resource not found",
            "category": "OBJECT_NOT_FOUND",
            "context": {"id": [object_id], "type": [object_type]},
        },
    )


def default_pipelines() -> dict[str, dict[str, dict[str, Any]]]:
    """Every portal's default ticket pipeline ("0", Support Pipeline) and its four stages."""
    stages = [("1", "New"), ("2", "Waiting on contact"), ("3", "Waiting on us"), ("4", "Closed")]
    return {"tickets": {"0": pipeline_body("0", "Support Pipeline", stages)}}


def pipeline_body(
    pipeline_id: str, label: str, stages: list[tuple[str, str]], closed: Sequence[str] = ()
) -> dict[str, Any]:
    """A pipeline in HubSpot's answer shape; ``closed`` stages (and any labelled "Closed")
    have ticket state CLOSED."""
    stamp = "2020-01-01T00:00:00.000Z"
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": 0,
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "stages": [
            {
                "id": stage_id,
                "label": stage_label,
                "displayOrder": i,
                "archived": False,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                "metadata": {
                    "ticketState": "CLOSED"
                    if stage_label == "Closed" or stage_id in closed
                    else "OPEN"
                },
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            for i, (stage_id, stage_label) in enumerate(stages)
        ],
    }


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
    #: The modification time stamped on writes; a test may fix it to play ties.
    clock: Callable[[], str] = now_iso

    # -- properties --------------------------------------------------------------------------

    def check_properties(
        self, object_type: str, props: dict[str, Any], current_id: str | None = None
    ) -> None:
        known = self.properties[object_type]
        for name, value in props.items():
            if name not in known:
                raise validation_error(
                    f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST", name
                )
            if value is None:
                continue
            if not isinstance(value, str):
                raise validation_error(f"{name} must be a string", "INVALID_TYPE", name)
            definition = known[name]
            if definition["modificationMetadata"]["readOnlyValue"]:
                raise validation_error(
                    f'"{name}" is a read only property; its value cannot be set.',
                    "READ_ONLY_VALUE",
                    name,
                )
            if definition["type"] == "number" and value != "" and not NUMBER_RE.fullmatch(value):
                raise validation_error(
                    f"{value} was not a valid number for {name}.", "INVALID_DOUBLE", name
                )
            if definition["type"] == "enumeration" and value != "":
                allowed = {o["value"] for o in definition["options"]}
                values = value.split(";") if definition["fieldType"] == "checkbox" else [value]
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise validation_error(
                        f"{bad[0]} was not one of the allowed options: {sorted(allowed)}",
                        "INVALID_OPTION",
                        name,
                    )
            if name == "email" and value and not EMAIL_RE.fullmatch(value):
                raise validation_error(f"Email address {value} is invalid", "INVALID_EMAIL", name)
            if definition["hasUniqueValue"] and value:
                holder = self.find_by(object_type, name, value)
                if holder is not None and holder["id"] != current_id:
                    what = "Contact" if object_type == "contacts" else "Object"
                    raise CrmError(
                        409,
                        {
                            "status": "error",
                            "message": f"{what} already exists. Existing ID: {holder['id']}",
                            "category": "CONFLICT",
                        },
                    )

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
            raise validation_error(
                f"{pipeline_id} is not a valid pipeline", "INVALID_OPTION", "hs_pipeline"
            )
        stages = [s["id"] for s in pipeline["stages"]]
        if stage is not None and str(stage) not in stages:
            raise validation_error(
                f"{stage} is not a valid pipeline stage of pipeline {pipeline_id}; "
                f"its stages are {stages}",
                "INVALID_OPTION",
                "hs_pipeline_stage",
            )

    def check_engagement(self, object_type: str, props: dict[str, Any], *, creating: bool) -> None:
        """An email or note needs a valid ``hs_timestamp``; an email's headers are JSON."""
        bad = engagement_problem(object_type, props, creating)
        if bad is not None:
            raise validation_error(f"{bad} is missing or not valid", "INVALID_PROPERTY", bad)

    # -- objects -------------------------------------------------------------------------------

    def create(self, object_type: str, props: dict[str, Any]) -> dict[str, Any]:
        props = {k: v for k, v in props.items() if v is not None}
        self.check_properties(object_type, props)
        if object_type == "tickets":
            for required in ("subject", "hs_pipeline_stage"):
                if not props.get(required):
                    raise validation_error(f"{required} is required", "REQUIRED_PROPERTY", required)
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
        self._reindex(object_type, obj, live=True)
        self._version(object_type, obj)
        return obj

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
        if object_type == "tickets":
            self.check_pipeline(props, obj)
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


def _key(name: str, value: str) -> str:
    """Emails are unique whatever their case; other unique values are compared as written."""
    return value.lower() if name == "email" else value
