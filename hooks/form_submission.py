"""Panel form submissions: the hook records one outbox row and returns; the worker posts it."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.delivery import form_submission
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import Visitor

log = logging.getLogger("skypanel_hubspot_plugin.hooks")


@hookimpl
def skypanel_on_form_submitted(
    form: str, fields: Mapping[str, str], visitor: Visitor, session: Any | None
) -> None:
    # The visitor's form has been handled by the panel; HubSpot must never turn it into an error.
    try:
        form_submission.form_submitted(runtime.current(), form, fields, visitor, session)
    except Exception as exc:
        log.error(
            "HubSpot event form_submitted could not be recorded (%s: %s); to replay by hand: %s",
            type(exc).__name__,
            exc,
            json.dumps(form_submission.replayable(form, fields, visitor)),
        )
