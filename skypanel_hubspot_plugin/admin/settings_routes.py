"""Admin handlers for the settings form and the encryption key.

The form is described by the schema (``skypanel_settings_schema``), so a host renders it
without knowing HubSpot. The token is write-only: the answer says whether one is set,
from where, and its last four characters; never more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.mapping_routes import MAP_KINDS, check_settings_change
from skypanel_hubspot_plugin.admin.pipeline_routes import PIPELINE_KEYS, check_pipeline_change
from skypanel_hubspot_plugin.admin.responses import PREFIX, Route, body_object, error, invalid
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse, SettingField
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import ATTRIBUTES, HubSpotSettings, InvalidSettings
from skypanel_hubspot_plugin.settings.secrets import SecretsError


def field_json(field: SettingField) -> dict[str, object]:
    return {
        "key": field.key,
        "label": field.label,
        "type": field.type,
        "help": field.help,
        "default": field.default,
        "required": field.required,
        "requiredWhen": field.required_when,
        "options": [list(option) for option in field.options],
    }


def settings_json(settings: HubSpotSettings) -> dict[str, object]:
    """The form: its fields, the saved values (never the token) and stored-value problems."""
    values: dict[str, Any] = {}
    for key, attribute in ATTRIBUTES.items():
        value = getattr(settings, attribute)
        values[key] = value if isinstance(value, bool) else str(value)
    return {
        "fields": [field_json(f) for f in keys.FIELDS],
        "values": values,
        "token": {
            "set": settings.token is not None,
            "last4": settings.token.last4 if settings.token else None,
            "source": settings.token_source,
        },
        "secrets": {
            keys.API_KEY: {
                "set": settings.token is not None,
                "last4": settings.token.last4 if settings.token else None,
            },
            keys.APP_SECRET: {
                "set": settings.app_secret is not None,
                "last4": settings.app_secret.last4 if settings.app_secret else None,
            },
        },
        "problems": dict(settings.problems),
    }


def get_settings(request: AdminRequest) -> AdminResponse:
    """GET …/settings: what the settings page shows."""
    return AdminResponse(200, settings_json(runtime.current().store.reload()))


def post_settings(request: AdminRequest) -> AdminResponse:
    """POST …/settings: saves the given keys together, or nothing and 422 naming each bad one.

    An empty ``hubspot_api_key`` keeps the stored token, as the form never shows it.
    """
    body = body_object(request, "Invalid settings")
    if isinstance(body, AdminResponse):
        return body
    if (refused := check_settings_change(body)) is not None:
        return refused  # a changed property map the portal would not take
    if (refused := check_pipeline_change(body)) is not None:
        return refused  # a stage that is not in the chosen pipeline
    try:
        saved = runtime.current().store.save(body)
    except InvalidSettings as exc:
        return invalid("Invalid settings", exc.errors)
    return AdminResponse(200, {"success": True, **settings_json(saved)})


def save_settings(values: Mapping[str, object]) -> HubSpotSettings:
    """Saves settings as the admin's settings form does, from the host's code or a test.

    ``values`` maps setting keys (``hubspot_enabled``, ``hubspot_portal_id``, …) to values;
    the keys not given keep what is saved. Everything the form checks is checked (a
    property map the portal would not take, a stage outside the chosen pipeline), and a
    refusal raises :class:`InvalidSettings` naming each bad key, having saved nothing.
    Needs the plugin started (``skypanel_startup``). Returns the settings now in force.
    """
    checks = ((check_settings_change, MAP_KINDS), (check_pipeline_change, PIPELINE_KEYS))
    for check, covered in checks:
        refused = check(values)
        if refused is None:
            continue
        details, message = refused.body.get("details"), str(refused.body.get("message"))
        if refused.status == 422 and isinstance(details, dict):
            raise InvalidSettings({str(k): str(v) for k, v in details.items()})
        raise InvalidSettings({k: message for k in covered if k in values})
    return runtime.current().store.save(values)


def post_rotate_key(request: AdminRequest) -> AdminResponse:
    """POST …/rotate-key: re-encrypts the stored token with the newest configured key."""
    store = runtime.current().store
    try:
        rotated = store.rotate_key()
    except SecretsError as exc:
        return error(409, "Cannot re-encrypt the access token", {keys.API_KEY: str(exc)})
    return AdminResponse(
        200, {"success": True, "rotated": rotated, "keyId": store.box.primary_key_id}
    )


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/settings", get_settings),
    ("POST", f"{PREFIX}/settings", post_settings),
    ("POST", f"{PREFIX}/rotate-key", post_rotate_key),
)
