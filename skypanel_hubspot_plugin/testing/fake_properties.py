"""The fake HubSpot's schema: property definitions, ticket pipelines and the portal's rules on
writes, as the API serves them and as a portal admin changes them in HubSpot's settings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .fake_engagement_rules import ENGAGEMENT_TYPES
from .fake_http import (
    PIPELINES,
    PROPERTIES,
    Answer,
    RouteSpec,
    error_body,
    read_scopes,
    write_scopes,
)
from .fake_objects import OBJECT
from .fake_rules import CONDITIONALLY_REQUIRED, RULE_KINDS, WriteRule
from .fake_schema import now_iso, pipeline_body, prop
from .fake_state import FakeState


class PropertiesApi(FakeState):
    """``/crm/properties/<version>/<type>`` and ``/crm/pipelines/<version>/<type>``."""

    def _properties_routes(self) -> list[RouteSpec]:
        def read(p: dict[str, str]) -> set[str]:
            return read_scopes(p["object_type"])

        def write_schema(p: dict[str, str]) -> set[str]:
            # Ticket properties need the tickets scope; contact properties their schema scope;
            # engagement properties the scopes that write the engagements.
            if p["object_type"] == "tickets":
                return {"tickets"}
            if p["object_type"] in ENGAGEMENT_TYPES:
                return write_scopes(p["object_type"])
            return {f"crm.schemas.{p['object_type']}.write"}

        return [
            ("GET", rf"{PROPERTIES}/{OBJECT}", self._properties, read),
            ("POST", rf"{PROPERTIES}/{OBJECT}", self._create_property, write_schema),
            ("GET", rf"{PROPERTIES}/{OBJECT}/(?P<name>[^/]+)", self._property, read),
            ("GET", rf"{PIPELINES}/{OBJECT}", self._pipelines, read),
        ]

    # -- as a portal admin ---------------------------------------------------------------------

    def add_property(
        self,
        object_type: str,
        name: str,
        *,
        type: str = "string",
        field_type: str = "text",
        options: Sequence[str | tuple[str, str]] = (),
        label: str | None = None,
        read_only: bool = False,
    ) -> None:
        """Creates a custom property (``type`` as HubSpot names it: string, number, enumeration,
        date, datetime, bool), as a portal admin does in HubSpot's settings."""
        pairs = [(o, o) if isinstance(o, str) else o for o in options]
        definition = prop(
            name,
            label or name.replace("_", " ").capitalize(),
            type_=type,
            field_type=field_type,
            options=pairs,
            group="custom",
            read_only=read_only,
        )
        with self._lock:
            self._store.properties[object_type][name] = definition

    def set_property_options(
        self, object_type: str, name: str, options: Sequence[dict[str, Any]]
    ) -> None:
        """Changes an enumeration property's options, as a portal admin can."""
        with self._lock:
            self._store.properties[object_type][name]["options"] = [
                {
                    "label": o["label"],
                    "value": o["value"],
                    "displayOrder": i,
                    "hidden": bool(o.get("hidden", False)),
                }
                for i, o in enumerate(options)
            ]

    def add_pipeline(
        self,
        pipeline_id: str,
        label: str,
        stages: Sequence[tuple[str, str]],
        *,
        closed: Sequence[str] = (),
    ) -> None:
        """Creates a ticket pipeline with (id, label) stages, as a portal admin can; the
        stages in ``closed`` (and any labelled "Closed") have ticket state CLOSED."""
        with self._lock:
            self._store.pipelines["tickets"][pipeline_id] = pipeline_body(
                pipeline_id, label, list(stages), closed=closed
            )
            for name, values in (
                ("hs_pipeline", [(p["id"], p["label"]) for p in self._pipeline_list()]),
                (
                    "hs_pipeline_stage",
                    [(s["id"], s["label"]) for p in self._pipeline_list() for s in p["stages"]],
                ),
            ):
                self._store.properties["tickets"][name]["options"] = [
                    {"label": label_, "value": value, "displayOrder": i, "hidden": False}
                    for i, (value, label_) in enumerate(dict(values).items())
                ]

    def remove_pipeline_stage(self, pipeline_id: str, stage_id: str) -> None:
        """Deletes a stage of a ticket pipeline, as a portal admin can."""
        with self._lock:
            pipeline = self._store.pipelines["tickets"][pipeline_id]
            pipeline["stages"] = [s for s in pipeline["stages"] if s["id"] != stage_id]

    def ticket_pipelines(self) -> dict[str, list[tuple[str, str]]]:
        """Each ticket pipeline's id → its (stage id, stage label) pairs, in display order."""
        with self._lock:
            return {
                p["id"]: [(s["id"], s["label"]) for s in p["stages"]] for p in self._pipeline_list()
            }

    def _pipeline_list(self) -> list[dict[str, Any]]:
        return list(self._store.pipelines["tickets"].values())

    def add_write_rule(
        self,
        object_type: str,
        kind: str,
        property: str,
        *,
        when: tuple[str, str] | None = None,
    ) -> None:
        """Makes ``property`` of ``object_type`` records required: ``kind`` is "required"
        (every write), "conditionally_required" (every write leaving ``when``'s property,
        a ``(property, value)`` pair, at that value) or "required_by_creation_form"
        (creates). Raises ValueError for an unknown object type, kind or property, as
        HubSpot's settings offer only those that exist."""
        if kind not in RULE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(RULE_KINDS)}")
        if (kind == CONDITIONALLY_REQUIRED) != (when is not None):
            raise ValueError("when (property, value) is given for conditionally_required only")
        with self._lock:
            known = self._store.properties.get(object_type)
            if known is None:
                raise ValueError(f"unknown object type {object_type!r}")
            for name in (property, *(when[:1] if when else ())):
                if name not in known:
                    raise ValueError(f"{object_type} has no property {name!r}")
            rule = WriteRule(object_type, kind, property, (when[0], when[1]) if when else None)
            if rule not in self._store.rules:
                self._store.rules.append(rule)

    def remove_write_rules(
        self, object_type: str, property: str, *, kind: str | None = None
    ) -> int:
        """Removes the rules on ``property`` (of ``kind`` only, when given); returns how many."""
        with self._lock:
            kept = [
                r
                for r in self._store.rules
                if not (
                    r.object_type == object_type
                    and r.property == property
                    and kind in (None, r.kind)
                )
            ]
            removed = len(self._store.rules) - len(kept)
            self._store.rules[:] = kept
            return removed

    def write_rules(self) -> list[dict[str, Any]]:
        """The portal's rules as the control API lists them."""
        with self._lock:
            return [r.as_json() for r in self._store.rules]

    def has_property(self, object_type: str, name: str) -> bool:
        with self._lock:
            return name in self._store.properties[object_type]

    # -- as the API serves them ---------------------------------------------------------------

    def _properties(self, *, object_type: str, **_: Any) -> Answer:
        return 200, {"results": [dict(p) for p in self._store.properties[object_type].values()]}

    def _create_property(self, *, object_type: str, body: Any, **_: Any) -> Answer:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and body.get(k)
            for k in ("name", "label", "type", "fieldType", "groupName")
        ):
            return 400, error_body(
                "name, label, type, fieldType and groupName are required", "VALIDATION_ERROR"
            )
        name = body["name"]
        if name in self._store.properties[object_type]:
            message = f"Property named '{name}' already exists."
            return 409, {
                **error_body(message, "OBJECT_ALREADY_EXISTS"),
                "errors": [{"message": message, "in": "name"}],
            }
        definition = prop(
            name,
            body["label"],
            type_=body["type"],
            field_type=body["fieldType"],
            unique=bool(body.get("hasUniqueValue")),
            group=body["groupName"],
        )
        definition["description"] = str(body.get("description") or "")
        definition["createdAt"] = definition["updatedAt"] = now_iso()
        self._store.properties[object_type][name] = definition
        return 201, dict(definition)

    def _pipelines(self, *, object_type: str, **_: Any) -> Answer:
        found = self._store.pipelines.get(object_type, {})
        return 200, {"results": [json.loads(json.dumps(p)) for p in found.values()]}

    def _property(self, *, object_type: str, name: str, **_: Any) -> Answer:
        prop = self._store.properties[object_type].get(name)
        if prop is None:
            return 404, error_body(f"Unable to find property {name}", "OBJECT_NOT_FOUND")
        return 200, dict(prop)
