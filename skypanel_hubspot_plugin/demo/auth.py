"""Who is using the demo panel: nobody, the admin, or one customer, kept in the signed session.

The admin logs in with the password the demo printed at start; customers are logged in
by signing up (the demo has no customer passwords). Logging in renews the session's CSRF
token, so a token seen before login is worthless after it, and starts a server-side
session (``LiveSessions``) that logging out ends: a copy of the cookie is worthless after
logout. Failed admin logins are throttled (``LoginThrottle``).
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from .config import ADMIN_USERNAME
from .csrf import renew_csrf_token
from .live_sessions import LiveSessions
from .login_throttle import LoginThrottle

ROLE = "role"
ADMIN = "admin"
CUSTOMER = "customer"
CUSTOMER_ID = "customer_id"
SESSION_ID = "sid"


def admin_credentials_match(username: str, password: str, admin_password: str) -> bool:
    # Both comparisons always run, in constant time, so timing tells nothing about either.
    user_ok = hmac.compare_digest(username.encode(), ADMIN_USERNAME.encode())
    password_ok = hmac.compare_digest(password.encode(), admin_password.encode())
    return user_ok and password_ok


def live_sessions(request: Request) -> LiveSessions:
    sessions: LiveSessions = request.app.state.live_sessions
    return sessions


def login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _start(request: Request, role: str) -> None:
    # A new id at every login: an id planted before login is never the logged-in one.
    sessions = live_sessions(request)
    sessions.end(request.session.get(SESSION_ID))
    request.session.clear()
    request.session[ROLE] = role
    request.session[SESSION_ID] = sessions.start()
    renew_csrf_token(request)


def log_in_admin(request: Request) -> None:
    _start(request, ADMIN)


def log_in_customer(request: Request, customer_id: int) -> None:
    _start(request, CUSTOMER)
    request.session[CUSTOMER_ID] = customer_id


def log_out(request: Request) -> None:
    live_sessions(request).end(request.session.get(SESSION_ID))
    request.session.clear()
    renew_csrf_token(request)


def _role(request: Request) -> str | None:
    if not live_sessions(request).alive(request.session.get(SESSION_ID)):
        return None  # nobody logged in, or a session ended by logout
    role = request.session.get(ROLE)
    return role if isinstance(role, str) else None


def is_admin(request: Request) -> bool:
    return _role(request) == ADMIN


def admin_name(request: Request) -> str | None:
    """Who the audit trail says made an admin request: the demo has one admin."""
    return ADMIN_USERNAME if is_admin(request) else None


def customer_id(request: Request) -> int | None:
    if _role(request) != CUSTOMER:
        return None
    value = request.session.get(CUSTOMER_ID)
    return value if isinstance(value, int) else None


def require_admin(request: Request) -> None:
    """FastAPI dependency for the admin API: 401 when nobody is logged in, 403 for a customer."""
    role = _role(request)
    if role is None:
        raise HTTPException(401, "Log in as the admin first")
    if role != ADMIN:
        raise HTTPException(403, "Only the admin may do this")
