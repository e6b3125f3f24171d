"""The fake HubSpot's CRM search: filters, sorts, paging, its own rate limit and an index
that lags behind writes, as HubSpot's does."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from .fake_http import OBJECTS, Answer, RouteSpec, error_body, read_scopes, search_limit_body
from .fake_objects import OBJECT, cursor, read_cursor
from .fake_state import FakeState
from .fake_store import NUMBER_RE, now_iso

#: HubSpot's CRM search: requests a second per account, and results one query pages through.
SEARCH_PER_SECOND = 5
SEARCH_MAX_RESULTS = 10_000


class SearchApi(FakeState):
    """``POST /crm/objects/<version>/<type>/search``."""

    def _search_routes(self) -> list[RouteSpec]:
        return [
            (
                "POST",
                rf"{OBJECTS}/{OBJECT}/search",
                self._search,
                lambda p: read_scopes(p["object_type"]),
            )
        ]

    def _search(self, *, object_type: str, body: Any, **_: Any) -> Answer:
        """HubSpot's CRM search: filter groups (OR of ANDs), sorts, paging up to 10,000
        results, its own per-second limit, and an index that lags writes by
        ``search_lag_s`` (a record shows its last version written before then)."""
        now = time.monotonic()
        self._search_hits.append(now)
        recent = [t for t in self._search_hits if t > now - 1.0]
        if self.search_rate_limit is not None and len(recent) > self.search_rate_limit:
            return 429, search_limit_body()
        body = body if isinstance(body, dict) else {}
        groups = body.get("filterGroups") or []

        def matches(obj: dict[str, Any]) -> bool:
            if not groups:
                return True
            return any(
                all(_filter_matches(obj, f) for f in group.get("filters") or []) for group in groups
            )

        found = [
            o
            for o in sorted(
                self._store.indexed(object_type, now - self.search_lag_s),
                key=lambda o: int(o["id"]),
            )
            if matches(o)
        ]
        for sort in reversed(body.get("sorts") or []):
            name, descending = _sort_spec(sort)
            found.sort(key=lambda o: _comparable(o["properties"].get(name)), reverse=descending)
        limit = min(int(body.get("limit") or 10), 200)
        start = read_cursor(body.get("after"))
        if start >= SEARCH_MAX_RESULTS:
            return 400, error_body(
                f"Search can page through at most {SEARCH_MAX_RESULTS} results", "VALIDATION_ERROR"
            )
        answer: dict[str, Any] = {
            "total": len(found),
            "results": [self._shape(o) for o in found[start : start + limit]],
        }
        if start + limit < len(found):
            answer["paging"] = {"next": {"after": cursor(start + limit)}}
        return 200, answer

    def search_requests(self) -> list[float]:
        """When each search request arrived (monotonic seconds), oldest first."""
        with self._lock:
            return list(self._search_hits)

    def fix_modification_time(self, stamp: str | None) -> None:
        """Stamps every write with ``stamp`` (HubSpot's ISO format) until called with None,
        to play changes that share one modification time."""
        with self._lock:
            self._store.clock = (lambda: stamp) if stamp is not None else now_iso


def _filter_matches(obj: dict[str, Any], spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    have = obj["properties"].get(spec.get("propertyName"))
    value = spec.get("value")
    operator = spec.get("operator", "EQ")
    if operator == "EQ":
        return have is not None and str(have).lower() == str(value).lower()
    if operator == "NEQ":
        return have is None or str(have).lower() != str(value).lower()
    if operator in ("IN", "NOT_IN"):
        values = spec.get("values")
        wanted = {str(v).lower() for v in values} if isinstance(values, list) else set()
        inside = have is not None and str(have).lower() in wanted
        return inside if operator == "IN" else not inside
    if operator == "HAS_PROPERTY":
        return have not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return have in (None, "")
    if operator in ("GT", "GTE", "LT", "LTE"):
        if have in (None, "") or value in (None, ""):
            return False
        left, right = _comparable(have), _comparable(value)
        if type(left) is not type(right):
            return False
        return {
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }[operator]
    return False


def _comparable(value: Any) -> tuple[int, Any]:
    """A property or filter value as HubSpot compares it: numbers and datetimes (ISO text or
    epoch milliseconds) as numbers, the rest as text; missing values sort first."""
    if value in (None, ""):
        return (0, 0)
    text = str(value)
    if NUMBER_RE.fullmatch(text):
        return (1, float(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return (2, text.lower())
    return (1, moment.timestamp() * 1000)


def _sort_spec(sort: Any) -> tuple[str, bool]:
    """A sort as HubSpot takes it: ``"name"``/``"-name"`` or ``{"propertyName", "direction"}``."""
    if isinstance(sort, dict):
        return str(sort.get("propertyName")), sort.get("direction") == "DESCENDING"
    text = str(sort)
    return text.lstrip("-"), text.startswith("-")
