"""Who is using the demo panel: nobody, the admin, or one customer, kept in the signed session.

The admin logs in with the password the demo printed at start; customers are logged in
by signing up (the demo has no customer passwords). Logging in renews the session's CSRF
token, so a token seen before login is worthless after it.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from .config import ADMIN_USERNAME
from .csrf import renew_csrf_token

ROLE = "role"
ADMIN = "admin"
CUSTOMER = "customer"
CUSTOMER_ID = "customer_id"


def admin_credentials_match(username: str, password: str, admin_password: str) -> bool:
    # Both comparisons always run, in constant time, so timing tells nothing about either.
    user_ok = hmac.compare_digest(username.encode(), ADMIN_USERNAME.encode())
    password_ok = hmac.compare_digest(password.encode(), admin_password.encode())
    return user_ok and password_ok


def log_in_admin(request: Request) -> None:
    request.session.clear()
    request.session[ROLE] = ADMIN
    renew_csrf_token(request)


def log_in_customer(request: Request, customer_id: int) -> None:
    request.session.clear()
    request.session[ROLE] = CUSTOMER
    request.session[CUSTOMER_ID] = customer_id
    renew_csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()
    renew_csrf_token(request)


def is_admin(request: Request) -> bool:
    return request.session.get(ROLE) == ADMIN


def customer_id(request: Request) -> int | None:
    if request.session.get(ROLE) != CUSTOMER:
        return None
    value = request.session.get(CUSTOMER_ID)
    return value if isinstance(value, int) else None


def require_admin(request: Request) -> None:
    """FastAPI dependency for the admin API: 401 when nobody is logged in, 403 for a customer."""
    role = request.session.get(ROLE)
    if role is None:
        raise HTTPException(401, "Log in as the admin first")
    if role != ADMIN:
        raise HTTPException(403, "Only the admin may do this")
