"""The admin's pages: the login form and the plugin settings page.

The settings page is built from ``skypanel_settings_schema``: the panel knows how to draw a
bool, a text, a secret and a select field, not what HubSpot's fields are. Values, saving,
the connection test, deliveries, the backfill and the contact list then go through the
plugin's admin API (``/api/admin/settings/hubspot/…``) from ``static/admin-settings.js``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.responses import Response

from skypanel_hubspot_plugin.demo import auth
from skypanel_hubspot_plugin.payloads import SettingField

from .csrf import check_csrf
from .forms import STATUSES
from .host import get_host, render
from .panel_tables import TICKET_EXTRA_FIELDS, USER_EXTRA_FIELDS, PanelUser

router = APIRouter()
#: Settings the page edits in a card of their own (the Ticket pipeline card's status →
#: stage table), kept in the form hidden so that Save still sends them.
CARD_KEYS = frozenset({"hubspot_ticket_status_stages"})
#: Characters of an option's words past which its select spans the form's two columns.
WIDE_OPTION = 28
Field = Annotated[str, Form()]


@router.get("/admin")
def admin_home() -> Response:
    return RedirectResponse("/admin/settings", status_code=303)


@router.get("/admin/login")
def login_page(request: Request) -> Response:
    if auth.is_admin(request):
        return RedirectResponse("/admin/settings", status_code=303)
    return render(request, "login.html", {"username": "", "error": None})


@router.post("/admin/login")
def log_in(
    request: Request, username: Field = "", password: Field = "", csrf_token: Field = ""
) -> Response:
    check_csrf(request, csrf_token)
    host = get_host(request)
    throttle = auth.login_throttle(request)
    address = auth.client_address(request)
    # Refused before the password is even compared: a guess in the window learns nothing.
    if (wait := throttle.retry_after(username, address)) is not None:
        context = {"username": username, "error": too_many_failures(wait)}
        response = render(request, "login.html", context, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    if not auth.admin_credentials_match(username, password, host.config.admin_password):
        throttle.failed(username, address)
        context = {"username": username, "error": "Wrong username or password"}
        return render(request, "login.html", context, status_code=401)
    throttle.succeeded(username, address)
    auth.log_in_admin(request)
    return RedirectResponse("/admin/settings", status_code=303)


def _long_options(field: SettingField) -> bool:
    """A select whose words would be cut off in half the form's width takes all of it."""
    return any(len(label) > WIDE_OPTION for _, label in field.options)


def too_many_failures(seconds: int) -> str:
    wait = (
        f"{seconds} second{'s' * (seconds != 1)}" if seconds < 120 else f"{seconds // 60} minutes"
    )
    return f"Too many failed logins: wait {wait}, then try again"


@router.get("/admin/settings")
def settings_page(request: Request) -> Response:
    if not auth.is_admin(request):
        return RedirectResponse("/admin/login", status_code=303)
    host = get_host(request)
    groups: list[list[SettingField]] = [
        list(fields) for fields in host.pm.hook.skypanel_settings_schema() if fields
    ]
    labels = {f.key: f.label for fields in groups for f in fields}
    with Session(host.engine) as session:
        customers = session.exec(select(func.count()).select_from(PanelUser)).one()
    context = {
        "groups": groups,
        "labels": labels,
        "customers": customers,
        "card_keys": CARD_KEYS,
        "wide_keys": {f.key for fields in groups for f in fields if _long_options(f)},
        "statuses": STATUSES,
        "panel_fields": {"user": list(USER_EXTRA_FIELDS), "ticket": list(TICKET_EXTRA_FIELDS)},
    }
    return render(request, "admin_settings.html", context)
