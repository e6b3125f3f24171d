"""Who may do what: a session login (a demo's: by email, no password), staff-only admin
pages, and a CSRF token per session that every state-changing request sends back in the
``X-CSRF-Token`` header."""

from __future__ import annotations

import hmac
import secrets

from flask import Response, abort, g, request, session

from .models import Customer, db

CSRF_HEADER = "X-CSRF-Token"


def log_in(customer: Customer) -> str:
    """Starts the customer's session; returns its CSRF token."""
    session.clear()
    session["customer_id"] = customer.id
    session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def viewer() -> Customer | None:
    customer_id = session.get("customer_id")
    return None if customer_id is None else db.session.get(Customer, customer_id)


def is_staff() -> bool:
    """The HubSpot admin API's check: 401 for nobody logged in, False (403) for customers."""
    customer = viewer()
    if customer is None:
        abort(401, "Log in first")
    return customer.is_staff


def csrf_ok() -> bool:
    expected = session.get("csrf", "")
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(expected) and hmac.compare_digest(sent, expected)


def new_csp_nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)  # where the HubSpot extension reads it


def content_security_policy(response: Response) -> Response:
    nonce = getattr(g, "csp_nonce", None)
    if nonce:
        response.headers["Content-Security-Policy"] = f"script-src 'nonce-{nonce}' 'strict-dynamic'"
    return response
