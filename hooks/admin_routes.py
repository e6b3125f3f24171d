"""Hands the host the plugin's routes, one ``register`` call per route."""

from __future__ import annotations

from skypanel_hubspot_plugin.admin_routes import ADMIN_ROUTES
from skypanel_hubspot_plugin.hookspecs import RegisterRoute, hookimpl
from skypanel_hubspot_plugin.public_routes import PUBLIC_ROUTES


@hookimpl
def skypanel_register_admin_routes(register: RegisterRoute) -> None:
    for method, path, handler in ADMIN_ROUTES:
        register(method, path, handler)


@hookimpl
def skypanel_register_public_routes(register: RegisterRoute) -> None:
    for method, path, handler in PUBLIC_ROUTES:
        register(method, path, handler)
