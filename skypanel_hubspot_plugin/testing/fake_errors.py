"""The fake HubSpot's error answers for records: HubSpot's 400 for refused values (every
refused value of a write listed, as the JSON array HubSpot embeds in its message and in
``errors[]``), its 409 for a unique value another record holds, and its 404."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class CrmError(Exception):
    """An error answer: HTTP status and HubSpot's JSON body (without correlationId)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Refusal:
    """One property value HubSpot refused: the property, HubSpot's error code, and why."""

    name: str
    code: str
    message: str


def validation_error(refusals: Sequence[Refusal]) -> CrmError:
    """HubSpot's 400 for refused values: each one as a result in the JSON array its message
    embeds (``Property values were not valid: [{"isValid":false,...}]``) and in ``errors``."""
    results = [
        {
            "isValid": False,
            "message": r.message,
            "error": r.code,
            "name": r.name,
            "localizedErrorMessage": r.message,
        }
        for r in refusals
    ]
    return CrmError(
        400,
        {
            "status": "error",
            "message": "Property values were not valid: "
            + json.dumps(results, separators=(",", ":")),
            "category": "VALIDATION_ERROR",
            "errors": [
                {
                    "message": r.message,
                    "code": r.code,
                    "in": r.name,
                    "context": {"propertyName": [r.name]},
                }
                for r in refusals
            ],
        },
    )


def refused(name: str, code: str, message: str) -> CrmError:
    """The 400 for one refused value."""
    return validation_error([Refusal(name, code, message)])


def already_exists(object_type: str, name: str, value: str, existing_id: str) -> CrmError:
    """HubSpot's 409 for a unique value another record holds: ``OBJECT_ALREADY_EXISTS``,
    the holder's id in the message ("Existing ID: N") and the property in ``errors[].in``."""
    singular = {"contacts": "contact", "tickets": "ticket"}.get(object_type, "object")
    body: dict[str, Any] = {
        "status": "error",
        "message": f"{singular.capitalize()} already exists. Existing ID: {existing_id}",
        "category": "OBJECT_ALREADY_EXISTS",
        "errors": [
            {
                "message": f"A {singular} with {name} {value} already exists. "
                f"Existing ID: {existing_id}",
                "in": name,
            }
        ],
    }
    if object_type == "contacts" and name == "email":
        body["error"] = "CONTACT_EXISTS"
    return CrmError(409, body)


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
