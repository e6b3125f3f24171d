"""Admin routes for the ticket pipeline: the portal's pipelines and stages for the settings
form, and the check that keeps a stage of another pipeline from being saved.

HubSpot refuses a ticket whose stage is not in its pipeline; checking at save names the
setting to fix before any ticket is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import PREFIX, Route, hubspot_error, invalid
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError, NotConfigured
from skypanel_hubspot_plugin.hubspot.service import Pipeline
from skypanel_hubspot_plugin.mapping.pipeline_check import default_status_stages, pipeline_problems
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import (
    ATTRIBUTES,
    FIELD_PARSERS,
    InvalidSettings,
    validate_changes,
)

PIPELINE_KEYS = (keys.TICKET_PIPELINE, keys.TICKET_STAGE, keys.TICKET_STATUS_STAGES)


def pipeline_json(pipeline: Pipeline) -> dict[str, object]:
    return {
        "id": pipeline.id,
        "label": pipeline.label,
        "stages": [
            {"id": s.id, "label": s.label, "ticketState": s.ticket_state or None}
            for s in pipeline.stages
        ],
        "defaultStatusStages": default_status_stages(pipeline),
    }


def get_pipelines(request: AdminRequest) -> AdminResponse:
    """GET …/pipelines: the portal's ticket pipelines and stages, and what is saved."""
    rt = runtime.current()
    settings = rt.store.reload()
    try:
        pipelines = rt.service(require_enabled=False).pipelines(api.TICKETS)
    except HubSpotError as exc:
        return hubspot_error(exc)
    return AdminResponse(
        200,
        {
            "pipelines": [pipeline_json(p) for p in pipelines],
            "selected": {
                "pipeline": settings.ticket_pipeline,
                "stage": settings.ticket_stage,
                "statusStages": dict(settings.ticket_status_stages),
            },
            "problems": pipeline_problems(
                pipelines,
                settings.ticket_pipeline,
                settings.ticket_stage,
                settings.ticket_status_stages,
            ),
        },
    )


def check_pipeline_change(changes: Mapping[str, object]) -> AdminResponse | None:
    """For ``POST …/settings``: 422 naming each setting whose stage is not in the chosen
    pipeline, or None to save. Without a saved token there is nothing to ask: the save goes
    ahead, and Test connection checks the pipeline once the token is there."""
    if not any(key in changes for key in PIPELINE_KEYS):
        return None
    rt = runtime.current()
    current = rt.store.reload()
    try:
        rows = validate_changes(current, changes).rows
    except InvalidSettings:
        return None  # the save reports every bad field
    chosen = {ATTRIBUTES[k]: FIELD_PARSERS[k](rows[k]) for k in PIPELINE_KEYS if k in rows}
    after = replace(current, **chosen)  # type: ignore[arg-type]
    if (after.ticket_pipeline, after.ticket_stage, after.ticket_status_stages) == (
        current.ticket_pipeline,
        current.ticket_stage,
        current.ticket_status_stages,
    ):
        return None
    try:
        pipelines = rt.service(require_enabled=False).pipelines(api.TICKETS)
    except NotConfigured:
        return None
    except HubSpotError as exc:
        answer = hubspot_error(exc)
        body = dict(answer.body)
        body["message"] = (
            f"Nothing saved: the ticket pipeline could not be checked against HubSpot. "
            f"{body['message']}"
        )
        return AdminResponse(answer.status, body)
    problems = pipeline_problems(
        pipelines, after.ticket_pipeline, after.ticket_stage, after.ticket_status_stages
    )
    return invalid("Invalid settings", problems) if problems else None


ROUTES: tuple[Route, ...] = (("GET", f"{PREFIX}/pipelines", get_pipelines),)
