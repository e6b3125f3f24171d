"""Admin handlers for the property maps: which panel field fills which HubSpot property.

A changed map is saved only once the portal's own property list says every mapped
property exists, can be written and can take what the panel sends; a refusal names each
bad entry and saves nothing. When HubSpot cannot be asked, nothing is saved either: an
unchecked map could park every later event until someone noticed. The settings form's
save (``POST …/settings``) goes through the same check through :func:`check_settings_change`.
``GET …/properties`` lists the portal's properties for a form to pick from.
"""

from __future__ import annotations

from collections.abc import Mapping

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import (
    PREFIX,
    Route,
    body_object,
    error,
    hubspot_error,
    invalid,
)
from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError, NotConfigured
from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo
from skypanel_hubspot_plugin.mapping.property_cache import CACHE
from skypanel_hubspot_plugin.mapping.property_map_check import (
    OBJECT_TYPES,
    check_against_portal,
    refusal,
)
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import (
    ATTRIBUTES,
    HubSpotSettings,
    InvalidSettings,
    validate_changes,
)
from skypanel_hubspot_plugin.settings.property_map import (
    DEFAULT_CONTACT_MAP,
    DEFAULT_TICKET_MAP,
    MODES,
    TICKET_FIELDS,
    TICKET_PROPERTIES_SET_BY_PLUGIN,
    USER_FIELDS,
    MapKind,
    MapShapeError,
    PropertyMap,
    parse_property_map,
    quoted,
)

INVALID = "Invalid property map"
MAP_KINDS: dict[str, MapKind] = {
    keys.CONTACT_PROPERTY_MAP: "contact",
    keys.TICKET_PROPERTY_MAP: "ticket",
}
DEFAULT_MAPS = {
    keys.CONTACT_PROPERTY_MAP: DEFAULT_CONTACT_MAP,
    keys.TICKET_PROPERTY_MAP: DEFAULT_TICKET_MAP,
}

#: Findings about entries, keyed ``"<setting key>.<panel field>"``.
Findings = dict[str, str]


def saved_map(settings: HubSpotSettings, key: str) -> PropertyMap:
    value = getattr(settings, ATTRIBUTES[key])
    assert isinstance(value, PropertyMap)
    return value


def maps_json(settings: HubSpotSettings) -> dict[str, dict[str, str | dict[str, str]]]:
    """Each saved map as stored: ``"property"`` for an overwrite row, ``{"property", "mode"}``
    for a row of another mode."""
    return {key: saved_map(settings, key).rows() for key in MAP_KINDS}


def _parse(body: Mapping[str, object]) -> tuple[dict[str, PropertyMap], Findings]:
    parsed: dict[str, PropertyMap] = {}
    errors: Findings = {}
    for key, raw in body.items():
        kind = MAP_KINDS.get(key)
        if kind is None:
            errors[key] = f"is not a property map (expected {' or '.join(MAP_KINDS)})"
            continue
        try:
            parsed[key] = parse_property_map(raw, kind)
        except MapShapeError as exc:
            for entry, message in exc.problems.items():
                errors[f"{key}.{entry}" if entry else key] = message
    return parsed, errors


def _changed(parsed: Mapping[str, PropertyMap], current: HubSpotSettings) -> dict[str, PropertyMap]:
    return {k: m for k, m in parsed.items() if not m.same_as(saved_map(current, k))}


def _not_checked(exc: HubSpotError) -> AdminResponse:
    """HubSpot could not be asked: the same status as any HubSpot failure, and "nothing saved"."""
    if isinstance(exc, NotConfigured):
        return error(
            409,
            "Nothing saved: save the HubSpot access token first, property maps are checked "
            "against the portal's properties",
            exc.message,
        )
    answer = hubspot_error(exc)
    body = dict(answer.body)
    body["message"] = (
        f"Nothing saved: the property map could not be checked against HubSpot. {body['message']}"
    )
    return AdminResponse(answer.status, body)


def _portal_findings(
    rt: Runtime, changed: Mapping[str, PropertyMap]
) -> tuple[Findings, Findings] | AdminResponse:
    """Problems and notes for the changed maps, or the answer when HubSpot cannot be asked."""
    if not changed:
        return {}, {}
    try:
        # Before the integration is switched on too: admins set up, then enable.
        service = rt.service(require_enabled=False)
        results = check_against_portal(service, {MAP_KINDS[k]: m for k, m in changed.items()})
    except HubSpotError as exc:
        return _not_checked(exc)
    problems: Findings = {}
    notes: Findings = {}
    for key in changed:
        found = results[MAP_KINDS[key]]
        problems.update({f"{key}.{f}": m for f, m in found.problems.items()})
        notes.update({f"{key}.{f}": m for f, m in found.notes.items()})
    return problems, notes


def get_property_map(request: AdminRequest) -> AdminResponse:
    """GET …/property-map: the saved maps, the defaults, the panel's built-in field names and
    the modes a row may take (the first is the default)."""
    settings = runtime.current().store.reload()
    return AdminResponse(
        200,
        {
            "maps": maps_json(settings),
            "defaults": {key: m.rows() for key, m in DEFAULT_MAPS.items()},
            "panelFields": {"user": list(USER_FIELDS), "ticket": list(TICKET_FIELDS)},
            "modes": list(MODES),
            "problems": {k: v for k, v in settings.problems.items() if k in MAP_KINDS},
        },
    )


def property_json(prop: PropertyInfo, kind: MapKind) -> dict[str, object]:
    """One portal property for a map's picker; ``mappable`` False (with ``reason``) when no
    panel field may fill it, so a form can show it without offering it."""
    reason = refusal(prop)
    if reason is None and kind == "ticket" and prop.name in TICKET_PROPERTIES_SET_BY_PLUGIN:
        reason = f"property {quoted(prop.name)} is set by the plugin from the ticket itself"
    return {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type,
        "fieldType": prop.field_type,
        "readOnly": prop.read_only,
        "options": list(prop.options),
        "mappable": reason is None,
        "reason": reason,
    }


def get_properties(request: AdminRequest) -> AdminResponse:
    """GET …/properties?object=contact|ticket: the portal's properties of that object, by label.

    Read through the same short cache as the map checks, so opening the settings page does
    not cost a HubSpot request per visit. HubSpot's hidden properties are left out.
    """
    asked = request.query.get("object", "")
    object_kind = next((kind for kind in OBJECT_TYPES if kind == asked), None)
    if object_kind is None:
        return invalid("Invalid query", {"object": f"must be {' or '.join(OBJECT_TYPES)}"})
    rt = runtime.current()
    try:
        # Before the integration is switched on too: admins map fields, then enable.
        service = rt.service(require_enabled=False)
        properties, _ = CACHE.get(service, OBJECT_TYPES[object_kind])
    except HubSpotError as exc:
        return hubspot_error(exc)
    shown = sorted(
        (p for p in properties.values() if not p.hidden),
        key=lambda p: (p.label.casefold(), p.name),
    )
    return AdminResponse(
        200,
        {"object": object_kind, "properties": [property_json(p, object_kind) for p in shown]},
    )


def post_property_map(request: AdminRequest) -> AdminResponse:
    """POST …/property-map: checks the given maps against the portal, then saves them together.

    Each map is a JSON object (or its JSON text) whose rows are a property's name or
    ``{"property": …, "mode": …}``. 422 names each bad entry as
    ``<setting>.<panel field>``; 409/502/503 when HubSpot cannot be asked. Nothing is saved
    unless everything passes; a map equal to the saved one is not sent to HubSpot again.
    """
    body = body_object(request, INVALID)
    if isinstance(body, AdminResponse):
        return body
    parsed, errors = _parse(body)
    if errors:
        return invalid(INVALID, errors)
    rt = runtime.current()
    current = rt.store.reload()
    changed = _changed(parsed, current)
    findings = _portal_findings(rt, changed)
    if isinstance(findings, AdminResponse):
        return findings
    problems, notes = findings
    if problems:
        return invalid(INVALID, problems)
    saved = current
    if changed:
        try:
            saved = rt.store.save({key: str(m) for key, m in changed.items()}, Actor.of(request))
        except InvalidSettings as exc:
            return invalid(INVALID, exc.errors)
    return AdminResponse(200, {"success": True, "maps": maps_json(saved), "notes": notes})


def check_settings_change(changes: Mapping[str, object]) -> AdminResponse | list[str]:
    """For ``POST …/settings``: the answer refusing a changed property map, or the notes
    the portal's properties gave on it (an admin's warnings: the save goes ahead).

    No notes too when the change is otherwise invalid: the save then reports every bad
    field. Problems are joined under the setting's key, as the settings form shows one
    message per field; each note names the map by its label and the panel field.
    """
    if not any(key in changes for key in MAP_KINDS):
        return []
    rt = runtime.current()
    current = rt.store.reload()
    try:
        validate_changes(current, changes)
    except InvalidSettings:
        return []
    parsed, _ = _parse({k: v for k, v in changes.items() if k in MAP_KINDS})
    findings = _portal_findings(rt, _changed(parsed, current))
    if isinstance(findings, AdminResponse):
        return findings
    problems, notes = findings
    if not problems:
        labels = {field.key: field.label for field in keys.FIELDS}
        warnings = []
        for entry, note in notes.items():
            key, _, panel_field = entry.partition(".")
            warnings.append(f"{labels[key]}, {panel_field}: {note}")
        return warnings
    by_setting: dict[str, list[str]] = {}
    for entry, message in problems.items():
        key, _, panel_field = entry.partition(".")
        by_setting.setdefault(key, []).append(f"{panel_field}: {message}")
    return invalid("Invalid settings", {k: "; ".join(v) for k, v in by_setting.items()})


ROUTES: tuple[Route, ...] = (
    ("GET", f"{PREFIX}/properties", get_properties),
    ("GET", f"{PREFIX}/property-map", get_property_map),
    ("POST", f"{PREFIX}/property-map", post_property_map),
)
