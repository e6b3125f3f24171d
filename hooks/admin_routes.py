"""Hands the host the plugin's routes, one ``register`` call per route."""

from __future__ import annotations

from skypanel_hubspot_plugin.admin.public_routes import PUBLIC_ROUTES
from skypanel_hubspot_plugin.admin.routes import ADMIN_ROUTES
from skypanel_hubspot_plugin.hookspecs import RegisterRoute, hookimpl


@hookimpl
def skypanel_register_admin_routes(register: RegisterRoute) -> None:
    for method, path, handler in ADMIN_ROUTES:
        register(method, path, handler)


@hookimpl
def skypanel_register_public_routes(register: RegisterRoute) -> None:
    for method, path, handler in PUBLIC_ROUTES:
        register(method, path, handler)
