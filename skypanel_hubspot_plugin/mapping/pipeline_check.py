"""The ticket pipeline settings against the portal's pipelines: stages belong to the pipeline.

HubSpot refuses a ticket whose stage is not a stage of its pipeline, so a panel set up with
a custom pipeline and the default stage would have every ticket refused. The settings
route checks a change here before saving it, the connection test checks the saved values
(a stage deleted in HubSpot since), and the settings form fills a status table's defaults
from a pipeline's stages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from skypanel_hubspot_plugin.hubspot.service import Pipeline
from skypanel_hubspot_plugin.settings import schema as keys

OPEN = "OPEN"
CLOSED = "CLOSED"


def default_status_stages(pipeline: Pipeline) -> dict[str, str]:
    """Each panel status → a stage of ``pipeline``, from the stages' open/closed state:
    open, waiting and in_progress take the first, second and third open stages (the last
    one when there are fewer), closed the first closed stage (the last stage without one)."""
    if not pipeline.stages:
        return {}
    opened = [s.id for s in pipeline.stages if s.ticket_state != CLOSED] or [pipeline.stages[0].id]
    closed = [s.id for s in pipeline.stages if s.ticket_state == CLOSED] or [pipeline.stages[-1].id]
    return {
        "open": opened[0],
        "waiting": opened[min(1, len(opened) - 1)],
        "in_progress": opened[min(2, len(opened) - 1)],
        "closed": closed[0],
    }


def pipeline_problems(
    pipelines: Sequence[Pipeline],
    pipeline_id: str,
    new_ticket_stage: str,
    status_stages: Mapping[str, str],
) -> dict[str, str]:
    """Setting key → what is wrong, for a pipeline or stage the portal does not have."""
    found = {p.id: p for p in pipelines}
    pipeline = found.get(pipeline_id)
    if pipeline is None:
        return {
            keys.TICKET_PIPELINE: f"pipeline {pipeline_id} does not exist in this portal; "
            f"its ticket pipelines are {', '.join(sorted(found)) or 'none'}"
        }
    stages = ", ".join(pipeline.stage_ids) or "none"
    where = f"pipeline {pipeline.id} ({pipeline.label}), whose stages are {stages}"
    problems: dict[str, str] = {}
    if new_ticket_stage not in pipeline.stage_ids:
        problems[keys.TICKET_STAGE] = f"stage {new_ticket_stage} is not a stage of {where}"
    wrong = [
        f"{s}: {stage}" for s, stage in status_stages.items() if stage not in pipeline.stage_ids
    ]
    if wrong:
        problems[keys.TICKET_STATUS_STAGES] = (
            f"{'; '.join(wrong)} {'is not a stage' if len(wrong) == 1 else 'are not stages'} "
            f"of {where}"
        )
    return problems
