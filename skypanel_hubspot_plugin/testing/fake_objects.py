"""The fake HubSpot's object API: one record (create, read, update, archive, GDPR delete),
pages of records, and batches.

A batch is answered as HubSpot's error-handling guide says: whole. One refused input fails
the batch with that input's error (400 VALIDATION_ERROR, 409 CONFLICT with "Existing ID: N",
404) and nothing of it is applied. The one exception is a batch create whose inputs all
carry an ``objectWriteTraceId``: the good inputs are created and each refused one is listed
with its trace id (207 before 2026-09; from 2026-09 the 201 lists them). A batch read,
which writes nothing, lists the ids it did not find.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import quote, unquote

from .fake_errors import CrmError
from .fake_http import OBJECTS, Answer, RouteSpec, error_body, first, read_scopes, write_scopes
from .fake_schema import now_iso
from .fake_state import FakeState
from .fake_store import ASSOCIATION_TYPES

BATCH_LIMIT = 100
#: What a batch read returns besides the properties asked for.
READ_ALWAYS = ("hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate")
OBJECT = r"(?P<object_type>contacts|tickets|emails|notes)"
#: A HUBSPOT_DEFINED association type id → the (from, to) object types it links.
TYPE_ENDS = {type_id: ends for ends, type_id in ASSOCIATION_TYPES.items()}


class ObjectsApi(FakeState):
    """``/crm/objects/<version>/<type>``: records one at a time, in pages and in batches."""

    def _objects_routes(self) -> list[RouteSpec]:
        def read(p: dict[str, str]) -> set[str]:
            return read_scopes(p["object_type"])

        def write(p: dict[str, str]) -> set[str]:
            return write_scopes(p["object_type"])

        return [
            (
                "POST",
                rf"{OBJECTS}/contacts/gdpr-delete",
                self._gdpr_delete,
                lambda p: {"crm.objects.contacts.write"},
            ),
            (
                "POST",
                rf"{OBJECTS}/{OBJECT}/batch/(?P<action>create|read|update|upsert|archive)",
                self._batch,
                lambda p: read(p) if p["action"] == "read" else write(p),
            ),
            ("GET", rf"{OBJECTS}/{OBJECT}", self._page, read),
            ("POST", rf"{OBJECTS}/{OBJECT}", self._create, write),
            ("GET", rf"{OBJECTS}/{OBJECT}/(?P<object_id>[^/]+)", self._get, read),
            ("PATCH", rf"{OBJECTS}/{OBJECT}/(?P<object_id>[^/]+)", self._update, write),
            ("DELETE", rf"{OBJECTS}/{OBJECT}/(?P<object_id>[^/]+)", self._archive, write),
        ]

    def _create(self, *, object_type: str, body: Any, **_: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return 400, error_body("properties is required", "VALIDATION_ERROR")
        links: list[tuple[str, str]] = []
        for association in body.get("associations") or []:
            to_id = str((association.get("to") or {}).get("id", ""))
            for spec in association.get("types") or []:
                ends = TYPE_ENDS.get(spec.get("associationTypeId"))
                if ends is None or ends[0] != object_type:
                    return 400, error_body(
                        f"associationTypeId {spec.get('associationTypeId')} does not link "
                        f"{object_type} to another object",
                        "VALIDATION_ERROR",
                    )
                self._store.get(ends[1], to_id)  # 404 before anything is created
                links.append((ends[1], to_id))
        obj = self._store.create(object_type, body["properties"])
        for to_type, to_id in links:
            self._store.associate(object_type, obj["id"], to_type, to_id)
        return 201, self._shape(obj)

    def _get(
        self, *, object_type: str, object_id: str, query: dict[str, list[str]], **_: Any
    ) -> Answer:
        id_property = first(query, "idProperty")
        return 200, self._shape(self._store.get(object_type, object_id, id_property))

    def _update(
        self, *, object_type: str, object_id: str, query: dict[str, list[str]], body: Any, **_: Any
    ) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return 400, error_body("properties is required", "VALIDATION_ERROR")
        id_property = first(query, "idProperty")
        return 200, self._shape(
            self._store.update(object_type, object_id, body["properties"], id_property)
        )

    def _archive(self, *, object_type: str, object_id: str, **_: Any) -> Answer:
        self._store.archive(object_type, object_id)
        return 204, None

    def _gdpr_delete(self, *, body: Any, **_: Any) -> Answer:
        if not isinstance(body, dict) or not body.get("objectId"):
            return 400, error_body("objectId is required", "VALIDATION_ERROR")
        self._store.purge("contacts", str(body["objectId"]), body.get("idProperty"))
        return 204, None

    def _page(self, *, object_type: str, query: dict[str, list[str]], **_: Any) -> Answer:
        limit = min(int((query.get("limit") or ["10"])[0]), BATCH_LIMIT)
        start = read_cursor(first(query, "after"))
        live = sorted(self._store.live(object_type), key=lambda o: int(o["id"]))
        chunk = live[start : start + limit]
        answer: dict[str, Any] = {"results": [self._shape(o) for o in chunk]}
        if start + limit < len(live):
            after = cursor(start + limit)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return 200, answer

    def _batch(
        self,
        *,
        object_type: str,
        action: str,
        body: Any,
        api_version: str | None = None,
        **_: Any,
    ) -> Answer:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            return 400, error_body("inputs is required", "VALIDATION_ERROR")
        if len(inputs) > BATCH_LIMIT:
            return 400, error_body(
                f"Batch size of {len(inputs)} exceeds the limit of {BATCH_LIMIT}",
                "VALIDATION_ERROR",
            )
        items = [item if isinstance(item, dict) else {} for item in inputs]
        if action == "create" and items and all(_trace_id(i) for i in items):
            return self._batch_create_traced(object_type, items, body, api_version)
        if action == "read":
            return self._batch_read(object_type, items, body, api_version)
        started = now_iso()
        # Refused whole: the first refused input's error, as a one-record write would have
        # had it, and nothing of the batch applied.
        with self._store.all_or_nothing():
            results = [self._batch_one(object_type, action, i, body) for i in items]
        if action == "archive":
            return 204, None
        answer = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": now_iso(),
        }
        return (201 if action == "create" else 200), answer

    def _batch_create_traced(
        self,
        object_type: str,
        items: list[dict[str, Any]],
        body: dict[str, Any],
        api_version: str | None,
    ) -> Answer:
        """HubSpot's multi-status batch create: every input carries an objectWriteTraceId,
        the good inputs are created, and each refused one is an error whose context names
        its objectWriteTraceId. 207 when some were refused (201 from 2026-09, whose spec
        lists the errors in the 201 answer itself)."""
        started = now_iso()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in items:
            trace = _trace_id(item) or ""
            try:
                results.append(
                    {
                        **self._batch_one(object_type, "create", item, body),
                        "objectWriteTraceId": trace,
                    }
                )
            except CrmError as exc:
                errors.append(_input_error(exc, {"objectWriteTraceId": [trace]}))
        return _with_errors(201, started, results, errors, api_version)

    def _batch_read(
        self,
        object_type: str,
        items: list[dict[str, Any]],
        body: dict[str, Any],
        api_version: str | None,
    ) -> Answer:
        """A batch read applies nothing: the records found, and the ids not found listed
        (207 before 2026-09; 2026-09's spec lists them in the 200)."""
        started = now_iso()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in items:
            try:
                results.append(self._batch_one(object_type, "read", item, body))
            except CrmError as exc:
                errors.append(_input_error(exc, {"ids": [str(item.get("id", ""))]}))
        return _with_errors(200, started, results, errors, api_version)

    def _batch_one(
        self, object_type: str, action: str, item: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        props: dict[str, Any] = (
            item["properties"] if isinstance(item.get("properties"), dict) else {}
        )
        if action == "create":
            obj = self._store.create(object_type, props)
            return self._shape(obj)
        if action == "read":
            found = self._shape(
                self._store.get(object_type, str(item.get("id", "")), body.get("idProperty"))
            )
            # As HubSpot: the properties asked for (those the record has), and its own three.
            asked = body.get("properties")
            keep = {*(asked if isinstance(asked, list) else []), *READ_ALWAYS}
            found["properties"] = {k: v for k, v in found["properties"].items() if k in keep}
            return found
        if action == "update":
            return self._shape(
                self._store.update(
                    object_type, str(item.get("id", "")), props, item.get("idProperty")
                )
            )
        if action == "archive":
            self._store.archive(object_type, str(item.get("id", "")))
            return {}
        id_property = item.get("idProperty") or "hs_object_id"
        if (
            id_property not in self._store.properties[object_type]
            or not self._store.properties[object_type][id_property]["hasUniqueValue"]
        ):
            raise CrmError(
                400, error_body(f"{id_property} is not a unique property", "VALIDATION_ERROR")
            )
        obj, new = self._store.upsert(object_type, str(item.get("id", "")), id_property, props)
        return self._shape(obj, new=new)


def _trace_id(item: dict[str, Any]) -> str | None:
    trace = item.get("objectWriteTraceId")
    return trace if isinstance(trace, str) and trace else None


def _input_error(exc: CrmError, context: dict[str, list[str]]) -> dict[str, Any]:
    """One refused input of a multi-status answer, in HubSpot's StandardError shape."""
    return {
        "status": "error",
        "category": exc.body.get("category", "ERROR"),
        "message": exc.body.get("message", ""),
        "context": context,
        "errors": exc.body.get("errors", []),
        "links": {},
    }


def _with_errors(
    status: int,
    started: str,
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    api_version: str | None,
) -> Answer:
    answer: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now_iso(),
    }
    if not errors:
        return status, answer
    answer.update(numErrors=len(errors), errors=errors)
    return (status if api_version == "2026-09" else 207), answer


def cursor(offset: int) -> str:
    """An opaque paging cursor in HubSpot's style (``NTI1Cg%3D%3D`` is 525)."""
    return quote(base64.b64encode(f"{offset}\n".encode()).decode(), safe="")


def read_cursor(after: Any) -> int:
    """The offset a cursor of ours stands for; 400 for anything else, as HubSpot answers."""
    if after in (None, ""):
        return 0
    try:
        text = base64.b64decode(unquote(str(after)), validate=True).decode()
        if not text.endswith("\n") or not text[:-1].isdigit():
            raise ValueError(text)
        return int(text[:-1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise CrmError(
            400, error_body(f"Invalid paging cursor: {str(after)[:64]}", "VALIDATION_ERROR")
        ) from None
