"""The fake HubSpot's CRM search: filters, sorts, paging, its own rate limit and an index
that lags behind writes, as HubSpot's does.

It refuses what HubSpot's refuses, with 400 ``VALIDATION_ERROR``: a ``limit`` above 200
(not clamped), more than 5 filter groups, more than 6 filters in a group or more than 18
in all, a cursor that is not a number, and paging past 10,000 results. Its cursors are
numeric strings (``"200"``), as HubSpot's search cursors are; its answers carry no
rate-limit headers, and each token may search 4 times a second.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime
from typing import Any

from .fake_errors import CrmError
from .fake_http import OBJECTS, Answer, RouteSpec, error_body, read_scopes, search_limit_body
from .fake_objects import OBJECT
from .fake_schema import now_iso
from .fake_state import FakeState, Token
from .fake_store import NUMBER_RE

#: HubSpot's CRM search: requests a second per token, and results one query pages through.
SEARCH_PER_SECOND = 4
SEARCH_MAX_RESULTS = 10_000
#: Results one search page holds at most, and the filters one query may hold (HubSpot's
#: limits since its changelog "Expanded Filtering Capabilities", August 2024).
SEARCH_MAX_LIMIT = 200
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25


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

    def _search(self, *, object_type: str, body: Any, token: Token | None, **_: Any) -> Answer:
        """HubSpot's CRM search: filter groups (OR of ANDs), sorts, paging up to 10,000
        results, its own per-second limit per token, and an index that lags writes by
        ``search_lag_s`` (a record shows its last version written before then)."""
        now = time.monotonic()
        self._search_hits.append(now)
        if self._search_limited(token, now):
            return 429, search_limit_body()
        body = body if isinstance(body, dict) else {}
        groups = _filter_groups(body.get("filterGroups"))
        limit = _limit(body.get("limit"))
        start = _offset(body.get("after"))

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
        answer: dict[str, Any] = {
            "total": len(found),
            "results": [self._shape(o) for o in found[start : start + limit]],
        }
        if start + limit < len(found):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return 200, answer

    def _search_limited(self, token: Token | None, now: float) -> bool:
        """Counts a search of ``token``; True when it made more than its share this second."""
        if self.search_rate_limit is None:
            return False
        hits = self._search_windows.setdefault(id(token), deque())
        while hits and hits[0] <= now - 1.0:
            hits.popleft()
        hits.append(now)
        return len(hits) > self.search_rate_limit

    def search_requests(self) -> list[float]:
        """When each search request arrived (monotonic seconds), oldest first."""
        with self._lock:
            return list(self._search_hits)

    def fix_modification_time(self, stamp: str | None) -> None:
        """Stamps every write with ``stamp`` (HubSpot's ISO format) until called with None,
        to play changes that share one modification time."""
        with self._lock:
            self._store.clock = (lambda: stamp) if stamp is not None else now_iso


def _refused(message: str) -> CrmError:
    return CrmError(400, error_body(message, "VALIDATION_ERROR"))


def _filter_groups(value: Any) -> list[dict[str, Any]]:
    """The query's filter groups, or HubSpot's 400 when there are more than it allows."""
    groups = [g for g in value if isinstance(g, dict)] if isinstance(value, list) else []
    if len(groups) > MAX_FILTER_GROUPS:
        raise _refused(
            f"There are {len(groups)} filter groups, above the limit of {MAX_FILTER_GROUPS} "
            "filter groups per query."
        )
    counts = [len(g.get("filters") or []) for g in groups]
    if any(c > MAX_FILTERS_PER_GROUP for c in counts):
        raise _refused(
            f"A filter group has {max(counts)} filters, above the limit of "
            f"{MAX_FILTERS_PER_GROUP} filters in a group."
        )
    if sum(counts) > MAX_FILTERS:
        raise _refused(
            f"The query has {sum(counts)} filters, above the limit of {MAX_FILTERS} "
            "filters in total."
        )
    return groups


def _limit(value: Any) -> int:
    """The page size asked for (10 by default), or HubSpot's 400 above 200."""
    if value in (None, ""):
        return 10
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise _refused(f"Invalid limit: {str(value)[:64]}") from None
    if limit > SEARCH_MAX_LIMIT:
        raise _refused(
            f"The limit {limit} is above the maximum of {SEARCH_MAX_LIMIT} results per page."
        )
    return max(1, limit)


def _offset(after: Any) -> int:
    """The result a page starts at: HubSpot's search cursors are offsets, as numeric strings."""
    if after in (None, ""):
        return 0
    text = str(after)
    if not (text.isascii() and text.isdigit()):
        raise _refused(f"Invalid paging cursor: {text[:64]}")
    start = int(text)
    if start >= SEARCH_MAX_RESULTS:
        raise _refused(f"Search can page through at most {SEARCH_MAX_RESULTS} results")
    return start


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
