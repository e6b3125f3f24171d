"""Content-Security-Policy: every response gets a fresh nonce and a policy naming it.

Only scripts carrying the request's nonce (or served from the panel itself) run, so a
string that slipped into a page unescaped still could not execute. Plugins receive the
nonce through ``PageContext.csp_nonce`` and put it on the ``<script>`` tags they return.

HubSpot's chat loader pulls in further scripts, frames and API calls from HubSpot's own
domains; those are allowed by host, for scripts the loader adds without a nonce.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

HUBSPOT_SCRIPTS = (
    "https://*.hs-scripts.com",
    "https://*.hs-analytics.net",
    "https://*.hs-banner.com",
    "https://*.hscollectedforms.net",
    "https://*.usemessages.com",
    "https://*.hubspot.com",
    "https://*.hsforms.net",
)
HUBSPOT_CONNECT = (
    "https://*.hubspot.com",
    "https://*.hubapi.com",
    "https://*.hs-banner.com",
    "https://*.hscollectedforms.net",
    "https://*.hsforms.com",
    "https://*.usemessages.com",
    "wss://*.hubspot.com",
)
HUBSPOT_FRAMES = ("https://*.hubspot.com", "https://*.usemessages.com")
HUBSPOT_IMAGES = ("https://*.hubspot.com", "https://*.hubspot.net", "https://*.hsforms.com")


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def policy(nonce: str) -> str:
    directives = {
        "default-src": ("'self'",),
        "script-src": ("'self'", f"'nonce-{nonce}'", *HUBSPOT_SCRIPTS),
        # The chat widget styles itself inline; scripts, not styles, are what CSP guards here.
        "style-src": ("'self'", "'unsafe-inline'"),
        "img-src": ("'self'", "data:", *HUBSPOT_IMAGES),
        "connect-src": ("'self'", *HUBSPOT_CONNECT),
        "frame-src": HUBSPOT_FRAMES,
        "object-src": ("'none'",),
        "base-uri": ("'none'",),
        "form-action": ("'self'",),
        "frame-ancestors": ("'none'",),
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


async def add_content_security_policy(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """HTTP middleware: the nonce is in ``request.state.csp_nonce`` for the page being built."""
    nonce = new_nonce()
    request.state.csp_nonce = nonce
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = policy(nonce)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
