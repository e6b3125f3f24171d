"""Routes anyone may call: what a page needs to load HubSpot's chat on the client side.

A host that loads the chat widget from its own JavaScript (the seed's ``HubSpotChat``
component) reads this instead of an admin endpoint. It gives the chat flag, the portal
id and the script's address, and only while the chat is on; nothing else.
"""

from __future__ import annotations

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.availability import guarded_routes
from skypanel_hubspot_plugin.admin.responses import Route
from skypanel_hubspot_plugin.admin.webhook_route import WEBHOOK_ROUTES
from skypanel_hubspot_plugin.hubspot.api import chat_script_url
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

CHAT_CONFIG = "/api/hubspot/chat-config"


def get_chat_config(request: AdminRequest) -> AdminResponse:
    settings = runtime.current().settings()
    if not settings.chat_active:
        return AdminResponse(200, {"chatEnabled": False, "portalId": None, "scriptUrl": None})
    return AdminResponse(
        200,
        {
            "chatEnabled": True,
            "portalId": settings.portal_id,
            "scriptUrl": chat_script_url(settings.region, settings.portal_id),
        },
    )


#: The public routes; a generic 503 while the plugin is not running.
PUBLIC_ROUTES: tuple[Route, ...] = guarded_routes(
    (("GET", CHAT_CONFIG, get_chat_config), *WEBHOOK_ROUTES), public=True
)
