"""Hands the host the admin API's handlers, one ``register`` call per route."""

from __future__ import annotations

from skypanel_hubspot_plugin.admin_routes import ROUTES
from skypanel_hubspot_plugin.hookspecs import RegisterRoute, hookimpl


@hookimpl
def skypanel_register_admin_routes(register: RegisterRoute) -> None:
    for method, path, handler in ROUTES:
        register(method, path, handler)
