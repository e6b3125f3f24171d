"""What every framework adapter does with a request's body, in one place.

An adapter reads at most :data:`MAX_BODY` bytes (a larger declared Content-Length is not
read at all), runs a route's before-body check first (the webhook's signature headers),
and parses JSON: strictly for admin routes (a body that is not JSON is 422), leniently for
public ones, whose handlers check a signature over the raw bytes first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_body import parse_json
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

log = logging.getLogger(__name__)

#: Methods whose routes change something: they need the host's CSRF check.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY = 1_000_000


def refusal(status: int, message: str, field: str, problem: str) -> AdminResponse:
    return AdminResponse(
        status, {"success": False, "message": message, "details": {field: problem}}
    )


def too_large() -> AdminResponse:
    return refusal(413, "Request body too large", "body", f"must be at most {MAX_BODY} bytes")


def declared_too_large(content_length: str | None) -> bool:
    """Whether a declared Content-Length is over the limit (then the body is not read)."""
    declared = content_length or ""
    return (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 12 or int(declared) > MAX_BODY)
    )


def admin_request(
    raw: bytes,
    *,
    strict_json: bool,
    query: Mapping[str, str],
    method: str,
    url: str,
    headers: Mapping[str, str],
    actor: str | None = None,
    client_address: str | None = None,
) -> AdminRequest | AdminResponse:
    """The handler's request for a body read in full, or the 422 refusing it (strict only).

    ``headers`` names are lower-cased here, as handlers expect. ``actor`` and
    ``client_address`` are who the host says is calling and from where (admin routes)."""
    body: Any = None
    if raw.strip():
        try:
            body = parse_json(raw)
        except InvalidInput as exc:
            if strict_json:
                log.info("Admin request refused: %s", exc)
                return refusal(422, "Invalid request", "body", exc.errors["body"])
    return AdminRequest(
        query=dict(query),
        body=body,
        method=method,
        url=url,
        headers={k.lower(): v for k, v in headers.items()},
        raw_body=raw,
        actor=actor,
        client_address=client_address,
    )
