"""The fake HubSpot's associations (v4): linking two records, with the default type or
HubSpot's defined one, and listing a record's links."""

from __future__ import annotations

from typing import Any

from .fake_engagement_rules import ENGAGEMENT_TYPE_IDS
from .fake_errors import not_found
from .fake_http import ASSOCIATIONS, Answer, RouteSpec, error_body, read_scopes, write_scopes
from .fake_objects import OBJECT
from .fake_schema import now_iso
from .fake_state import FakeState
from .fake_store import ASSOCIATION_TYPES

OBJECT_TYPE_IDS = {"contacts": "0-1", "tickets": "0-5", **ENGAGEMENT_TYPE_IDS}
TO = r"(?P<to_type>contacts|tickets|emails|notes)"


class AssociationsApi(FakeState):
    """``/crm/objects/<version>/<type>/<id>/associations/...`` (``/crm/v4/objects`` numbered)."""

    def _associations_routes(self) -> list[RouteSpec]:
        def both(p: dict[str, str]) -> set[str]:
            return write_scopes(p["object_type"]) | read_scopes(p["to_type"])

        one = rf"{ASSOCIATIONS}/{OBJECT}/(?P<object_id>\d+)/associations"
        return [
            ("PUT", rf"{one}/default/{TO}/(?P<to_id>\d+)", self._associate_default, both),
            ("PUT", rf"{one}/{TO}/(?P<to_id>\d+)", self._associate, both),
            (
                "GET",
                rf"{one}/{TO}",
                self._associations_page,
                lambda p: read_scopes(p["object_type"]),
            ),
        ]

    def _associate_default(
        self, *, object_type: str, object_id: str, to_type: str, to_id: str, **_: Any
    ) -> Answer:
        self._store.associate(object_type, object_id, to_type, to_id)
        type_id = ASSOCIATION_TYPES.get((object_type, to_type), 1)
        return 200, {
            "status": "COMPLETE",
            "startedAt": now_iso(),
            "completedAt": now_iso(),
            "results": [
                {
                    "from": {"id": object_id},
                    "to": {"id": to_id},
                    "associationSpec": {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": type_id,
                    },
                }
            ],
        }

    def _associate(
        self, *, object_type: str, object_id: str, to_type: str, to_id: str, body: Any, **_: Any
    ) -> Answer:
        specs = body if isinstance(body, list) else []
        expected = ASSOCIATION_TYPES.get((object_type, to_type))
        if not specs or any(
            s.get("associationTypeId") != expected for s in specs if isinstance(s, dict)
        ):
            return 400, error_body(
                f"associationTypeId must be {expected} for {object_type} to {to_type}",
                "VALIDATION_ERROR",
            )
        self._store.associate(object_type, object_id, to_type, to_id)
        return 201, {
            "fromObjectTypeId": OBJECT_TYPE_IDS[object_type],
            "fromObjectId": object_id,
            "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
            "toObjectId": to_id,
            "labels": [],
        }

    def _associations_page(
        self, *, object_type: str, object_id: str, to_type: str, **_: Any
    ) -> Answer:
        if object_id not in self._store.objects[object_type]:
            raise not_found(object_type, object_id)
        type_id = ASSOCIATION_TYPES.get((object_type, to_type), 1)
        return 200, {
            "results": [
                {
                    "toObjectId": int(i),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                    ],
                }
                for i in self._store.associated(object_type, object_id, to_type)
            ]
        }
