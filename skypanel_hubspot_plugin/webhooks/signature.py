"""Checking HubSpot's v3 request signature (``X-HubSpot-Signature-v3``) on a webhook.

HubSpot signs ``method + URI + body + timestamp`` with HMAC-SHA256 under the app's client
secret and sends it base64-encoded, with the timestamp (milliseconds) in
``X-HubSpot-Request-Timestamp``. ``hubspot-api-client``'s ``Signature`` computes the
digest; this module completes it where taken as is it would be unsafe or wrong: it decodes
the URI the way HubSpot's documentation asks, refuses timestamps more than five minutes
old *or* from the future (beyond a minute of clock skew), compares bytes in constant time,
and answers False, never an exception, on any garbage a caller can send.
"""

from __future__ import annotations

import hmac
import time

from hubspot.utils.signature import Signature

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_AGE_MS = 5 * 60 * 1000
MAX_SKEW_MS = 60 * 1000
MAX_SIGNATURE_LENGTH = 200

#: The percent-encoded characters HubSpot decodes in the URI before signing it.
URI_DECODING = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def signed_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed escapes decoded (either case), nothing else."""
    out = []
    i = 0
    while i < len(uri):
        decoded = URI_DECODING.get(uri[i : i + 3].upper()) if uri[i] == "%" else None
        if decoded is not None:
            out.append(decoded)
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | str) -> str:
    """The signature HubSpot would send; used by the fake HubSpot and by tests."""
    return str(
        Signature.get_signature(
            secret,
            body.decode("utf-8"),
            "v3",
            http_uri=signed_uri(uri),
            http_method=method,
            timestamp=str(timestamp_ms),
        )
    )


def fresh_timestamp(timestamp: str | None, *, now_ms: int | None = None) -> bool:
    """True for HubSpot's millisecond timestamp no older than five minutes and no more than
    a minute in the future; checked from the headers alone, before a body is read."""
    if not timestamp or not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        return False
    now = int(time.time() * 1000) if now_ms is None else now_ms
    age = now - int(timestamp)
    return -MAX_SKEW_MS <= age <= MAX_AGE_MS


def verify_v3(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now_ms: int | None = None,
) -> bool:
    """True only for a fresh request signed with ``secret``; False for anything else."""
    try:
        if not secret or not signature or not timestamp:
            return False
        if not fresh_timestamp(timestamp, now_ms=now_ms):
            return False
        if not signature.isascii() or len(signature) > MAX_SIGNATURE_LENGTH:
            return False
        expected = sign_v3(secret, method.upper(), uri, body, timestamp)
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))
    except (UnicodeError, ValueError):  # a body that is not UTF-8 was not signed by HubSpot
        return False
