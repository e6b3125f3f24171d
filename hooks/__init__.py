"""The plugin object the ``skypanel`` entry point loads: every hook implementation, one module each.

pluggy registers this module and finds the ``@hookimpl`` functions re-exported below.
Each is thin: it turns a host event into a call on the service layer and never lets a
HubSpot or configuration problem raise into the host.
"""

from .admin_routes import (
    skypanel_register_admin_routes,
    skypanel_register_public_routes,
)
from .events import (
    skypanel_on_ticket_created,
    skypanel_on_ticket_message_added,
    skypanel_on_ticket_updated,
    skypanel_on_user_created,
    skypanel_on_user_deleted,
    skypanel_on_user_updated,
)
from .form_embed import skypanel_form_embed
from .form_submission import skypanel_on_form_submitted
from .lifecycle import skypanel_shutdown, skypanel_startup
from .page_head import skypanel_page_head
from .settings_schema import skypanel_settings_schema

__all__ = [
    "skypanel_form_embed",
    "skypanel_on_form_submitted",
    "skypanel_on_ticket_created",
    "skypanel_on_ticket_message_added",
    "skypanel_on_ticket_updated",
    "skypanel_on_user_created",
    "skypanel_on_user_deleted",
    "skypanel_on_user_updated",
    "skypanel_page_head",
    "skypanel_register_admin_routes",
    "skypanel_register_public_routes",
    "skypanel_settings_schema",
    "skypanel_shutdown",
    "skypanel_startup",
]
