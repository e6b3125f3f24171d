"""The plugins' admin and public routes, for ``include()`` at the site's root::

    urlpatterns = [path("", include("skypanel_hubspot_plugin.django.urls")), ...]

Paths are the plugin's own (``/api/admin/settings/hubspot/...``, ``/api/hubspot/...``).
Under a prefix, enter the webhook's full address in the HubSpot settings (the signature
is checked against it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from django.urls import URLPattern, path

from skypanel_hubspot_plugin.django import lifecycle
from skypanel_hubspot_plugin.django.views import Handler, route_view

app_name = "skypanel_hubspot"


def patterns() -> list[URLPattern]:
    """One URL pattern per path the plugins register, admin ones behind Django's auth."""
    pm = lifecycle.plugin_manager()
    found: list[URLPattern] = []
    for hook, admin in (
        (pm.hook.skypanel_register_admin_routes, True),
        (pm.hook.skypanel_register_public_routes, False),
    ):
        routes: dict[str, dict[str, Handler]] = defaultdict(dict)

        def register(method: str, route: str, handler: Callable[..., object]) -> None:
            routes[route][method.upper()] = handler  # type: ignore[assignment]  # noqa: B023

        hook(register=register)
        found += [
            path(route.lstrip("/"), route_view(handlers, admin=admin))
            for route, handlers in routes.items()
        ]
    return found


urlpatterns = patterns()
