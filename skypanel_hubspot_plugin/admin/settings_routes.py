"""Admin handlers for the settings form and the encryption key.

The form is described by the schema (``skypanel_settings_schema``), so a host renders it
without knowing HubSpot. The token is write-only: the answer says whether one is set,
from where, and its last four characters; never more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.connection_test import ConnectionResult, check_connection
from skypanel_hubspot_plugin.admin.mapping_routes import MAP_KINDS, check_settings_change
from skypanel_hubspot_plugin.admin.pipeline_routes import PIPELINE_KEYS, check_pipeline_change
from skypanel_hubspot_plugin.admin.responses import PREFIX, Route, body_object, error, invalid
from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse, SettingField
from skypanel_hubspot_plugin.runtime import Runtime
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
    token = secret_json(settings.token, settings.problems.get(keys.API_KEY))
    return {
        "fields": [field_json(f) for f in keys.FIELDS],
        "values": values,
        "token": {**token, "source": settings.token_source},
        "secrets": {
            keys.API_KEY: token,
            keys.APP_SECRET: secret_json(
                settings.app_secret, settings.problems.get(keys.APP_SECRET)
            ),
        },
        "problems": dict(settings.problems),
    }


def secret_json(secret: Secret | None, problem: str | None) -> dict[str, object]:
    """Whether a secret is set, its last four, and why it cannot be used. One stored under a
    key this process lacks is set: the admin must read that, and which key, not "nothing saved"."""
    return {
        "set": secret is not None or problem is not None,
        "last4": secret.last4 if secret else None,
        "problem": problem,
    }


def get_settings(request: AdminRequest) -> AdminResponse:
    """GET …/settings: what the settings page shows."""
    return AdminResponse(200, settings_json(runtime.current().store.reload()))


def post_settings(request: AdminRequest) -> AdminResponse:
    """POST …/settings: saves the given keys together, or nothing and 422 naming each bad one.

    An empty ``hubspot_api_key`` keeps the stored token, as the form never shows it. The
    answer's ``warnings`` lists what the admin should know about what was saved: the notes
    on a property map, and, when a new token was saved, what HubSpot said of it (in full
    under ``tokenCheck``, the connection test's answer). A token HubSpot refuses is still
    saved: its shape is right, and an admin may save it before the app is installed or
    while HubSpot is away; the warning says what deliveries will meet.
    """
    body = body_object(request, "Invalid settings")
    if isinstance(body, AdminResponse):
        return body
    map_notes = check_settings_change(body)
    if isinstance(map_notes, AdminResponse):
        return map_notes  # a changed property map the portal would not take
    if (refused := check_pipeline_change(body)) is not None:
        return refused  # a stage that is not in the chosen pipeline
    rt = runtime.current()
    try:
        saved = rt.store.save(body, Actor.of(request))
    except InvalidSettings as exc:
        return invalid("Invalid settings", exc.errors)
    answer: dict[str, object] = {"success": True, **settings_json(saved)}
    warnings = list(map_notes)
    if body.get(keys.API_KEY):  # a new token: tell now what HubSpot thinks of it
        verdict = token_verdict(rt, saved)
        answer["tokenCheck"] = verdict.as_json()
        if not verdict.success:
            warnings.insert(
                0, f"Saved, but the token did not pass the connection test: {verdict.message}"
            )
        warnings.extend(verdict.warnings)
    answer["warnings"] = warnings
    return AdminResponse(200, answer)


def token_verdict(rt: Runtime, settings: HubSpotSettings) -> ConnectionResult:
    """The connection test of ``settings`` as just saved (before HubSpot is enabled too)."""
    try:
        service = rt.service(require_enabled=False)
    except HubSpotError:
        service = None
    return check_connection(settings, service, public_base_url=rt.public_base_url)


def save_settings(values: Mapping[str, object], *, actor: str | None = None) -> HubSpotSettings:
    """Saves settings as the admin's settings form does, from the host's code or a test.

    ``values`` maps setting keys (``hubspot_enabled``, ``hubspot_portal_id``, …) to values;
    the keys not given keep what is saved. Everything the form checks is checked (a
    property map the portal would not take, a stage outside the chosen pipeline), and a
    refusal raises :class:`InvalidSettings` naming each bad key, having saved nothing.
    Needs the plugin started (``skypanel_startup``). Returns the settings now in force.
    The keys it changes are recorded in the audit trail, as done by ``actor`` (a name the
    host chooses, such as the admin or the job on whose behalf it saves) through code.
    """
    checks = ((check_settings_change, MAP_KINDS), (check_pipeline_change, PIPELINE_KEYS))
    for check, covered in checks:
        refused = check(values)
        if not isinstance(refused, AdminResponse):
            continue  # nothing refused (a property map's notes are warnings only)
        details, message = refused.body.get("details"), str(refused.body.get("message"))
        if refused.status == 422 and isinstance(details, dict):
            raise InvalidSettings({str(k): str(v) for k, v in details.items()})
        raise InvalidSettings({k: message for k in covered if k in values})
    return runtime.current().store.save(values, Actor(name=actor))


def post_rotate_key(request: AdminRequest) -> AdminResponse:
    """POST …/rotate-key: re-encrypts the stored token with the newest configured key."""
    store = runtime.current().store
    try:
        rotated = store.rotate_key(Actor.of(request))
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
