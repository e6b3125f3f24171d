"""Checks recorded traffic against HubSpot's published OpenAPI specs (tests/openapi/).

Each supported API version has its own folder of specs, vendored from HubSpot's public
spec collection (see tests/openapi/NOTE.md). A request the plugin sent must validate as a
request of the spec that defines its path; a 2xx answer of the fake must validate as that
operation's answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import (
    OperationNotFound,
    PathNotFound,
    ServerNotFound,
)
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import MissingData

from skypanel_hubspot_plugin.testing.fake_hubspot import RecordedRequest

SPECS = Path(__file__).parent / "openapi"
HOST = "https://api.hubapi.com"

#: Endpoints HubSpot publishes no spec for in its collection: the private-app token-info
#: call and form submissions (which stay on their own endpoint). Everything else is checked.
UNSPECIFIED_PREFIXES = ("/oauth/v2/private-apps/", "/submissions/v3/")


@dataclass(frozen=True)
class Violation:
    """One request or answer that does not match the spec, and why."""

    what: str
    method: str
    path: str
    errors: str

    def __str__(self) -> str:
        return f"{self.what} {self.method} {self.path}: {self.errors}"


@cache
def specs(version: str) -> tuple[tuple[str, OpenAPI], ...]:
    """The vendored specs of one version, by file name."""
    folder = SPECS / version
    return tuple(
        (path.name, OpenAPI.from_dict(json.loads(path.read_text())))
        for path in sorted(folder.glob("*.json"))
    )


def _request(recorded: RecordedRequest) -> MockRequest:
    headers = {"Authorization": "Bearer redacted"} if recorded.authorized else {}
    data = b"" if recorded.body is None else json.dumps(recorded.body).encode()
    return MockRequest(
        HOST,
        recorded.method,
        recorded.path,
        args=[(k, v) for k, values in recorded.query.items() for v in values],  # type: ignore[arg-type]
        headers=headers,
        data=data,
    )


def _not_in_spec(exc: Exception) -> bool:
    return isinstance(exc, PathNotFound | OperationNotFound | ServerNotFound)


def check(version: str, recorded: RecordedRequest) -> list[Violation]:
    """What is wrong with one recorded exchange under ``version``'s specs (nothing: [])."""
    if recorded.path.startswith(UNSPECIFIED_PREFIXES):
        return []
    request = _request(recorded)
    matched = False
    problems: list[Violation] = []
    for name, spec in specs(version):
        try:
            spec.validate_request(request)
        except Exception as exc:
            if _not_in_spec(exc) or _not_in_spec(exc.__cause__ or exc):
                continue
            matched = True
            problems.append(
                Violation(f"request ({name})", recorded.method, _url(recorded), _why(exc))
            )
            continue
        matched = True
        if not 200 <= recorded.status < 300:
            return []
        data = b"" if recorded.answer is None else json.dumps(recorded.answer).encode()
        try:
            content_type = "application/json" if data else ""
            answer = MockResponse(data, status_code=recorded.status, content_type=content_type)
            spec.validate_response(request, answer)
        except Exception as exc:
            if _no_content(recorded, exc):
                return []
            problems.append(
                Violation(
                    f"answer {recorded.status} ({name})", recorded.method, recorded.path, _why(exc)
                )
            )
            continue
        return []  # valid under a spec that defines the operation
    if not matched:
        return [
            Violation(
                "request", recorded.method, recorded.path, "no spec of this version defines it"
            )
        ]
    return problems


def _no_content(recorded: RecordedRequest, exc: Exception) -> bool:
    """A 204 without a body is what the spec means by its empty ``content: {}``.

    HubSpot's specs write "no body" as an empty content map, which openapi-core reads as
    "a body of no known type is required"; HTTP forbids a body on 204.
    """
    missing = isinstance(exc, MissingData) or isinstance(exc.__cause__, MissingData)
    return missing and recorded.status == 204 and recorded.answer is None


def violations(version: str, recorded: list[RecordedRequest]) -> list[Violation]:
    return [v for r in recorded for v in check(version, r)]


def _url(recorded: RecordedRequest) -> str:
    query = urlencode([(k, v) for k, vs in recorded.query.items() for v in vs])
    return f"{recorded.path}?{query}" if query else recorded.path


def _why(exc: Exception) -> str:
    details: list[Any] = [str(exc)]
    for nested in getattr(exc, "schema_errors", None) or []:
        details.append(getattr(nested, "message", str(nested)))
    cause = exc.__cause__
    if cause is not None:
        details.append(str(cause))
        for nested in getattr(cause, "schema_errors", None) or []:
            details.append(getattr(nested, "message", str(nested)))
    return "; ".join(str(d) for d in details)[:2000]
