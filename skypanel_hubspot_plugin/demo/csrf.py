"""Cross-site request forgery protection: one random token per browser session.

Every page puts the token in a ``<meta name="csrf-token">`` and in each form's hidden
``csrf_token`` field; scripts send it back in the ``X-CSRF-Token`` header. A state-changing
request whose token does not match the session's is refused with 403. The session cookie is
also ``SameSite=Strict``; the token is what a host cannot rely on a browser for.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request

SESSION_KEY = "csrf"
HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """The session's token, made on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def renew_csrf_token(request: Request) -> None:
    """A fresh token, when who is logged in changes."""
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get(SESSION_KEY)
    if not isinstance(expected, str) or not sent:
        raise HTTPException(403, "The form has expired: reload the page and try again")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "The form has expired: reload the page and try again")


def require_csrf(request: Request) -> None:
    """FastAPI dependency for JSON routes: the token must come in the ``X-CSRF-Token`` header."""
    check_csrf(request, request.headers.get(HEADER))
