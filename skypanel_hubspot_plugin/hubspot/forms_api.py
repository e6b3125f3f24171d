"""HubSpot's Forms facts in one place: the embed script per region, the submission endpoint.

HubSpot serves forms from hosts of their own, apart from the CRM API's
``api.hubapi.com``: the embed script from ``js.hsforms.net`` (``js-<region>.hsforms.net``
outside na1) and submissions at ``api.hsforms.com``.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import HubSpotError

#: The panel's forms a host can place or report, each tied to its form-id setting.
FORMS = ("contact", "ticket")

FORMS_BASE_URL = "https://api.hsforms.com"
#: Points submissions somewhere else (a sandbox); otherwise they follow the CRM base URL
#: whenever that one is not HubSpot's (the fake HubSpot serves both).
FORMS_BASE_URL_ENV = "SKYPANEL_HUBSPOT_FORMS_BASE_URL"

#: The public submission endpoint: no token, so none is ever sent to the forms host.
SUBMIT_PATH = "/submissions/v3/integration/submit/{portal_id}/{form_guid}"

#: ``objectTypeId`` of contact properties, the only kind of field the panel's forms carry.
CONTACT_OBJECT_TYPE_ID = "0-1"

#: What HubSpot's tracking code puts in the ``hubspotutk`` cookie; anything else is
#: refused with INVALID_HUTK and loses the whole submission.
HUTK_RE = re.compile(r"[0-9a-f]{32}")

#: HubSpot takes up to this many fields in one submission.
MAX_FIELDS = 1000


def embed_script_host(region: str) -> str:
    """The host serving the forms embed script: ``js.hsforms.net`` for na1, ``js-<region>.…`` otherwise."""
    return "js.hsforms.net" if region == "na1" else f"js-{region}.hsforms.net"


def embed_script_url(region: str) -> str:
    """HubSpot's v2 forms embed script, which defines ``hbspt.forms.create``."""
    return f"https://{embed_script_host(region)}/forms/embed/v2.js"


def submit_path(portal_id: str, form_guid: str) -> str:
    return SUBMIT_PATH.format(
        portal_id=quote(portal_id, safe=""), form_guid=quote(form_guid, safe="")
    )


def forms_base_url(hubspot_base_url: str) -> str:
    """Where submissions go: the environment's choice, else the overridden CRM base URL
    (a sandbox or the fake HubSpot), else HubSpot's forms host."""
    configured = os.environ.get(FORMS_BASE_URL_ENV, "").strip()
    if configured:
        return configured.rstrip("/")
    base = hubspot_base_url.rstrip("/")
    return FORMS_BASE_URL if base == api.DEFAULT_BASE_URL else base


def name_the_reasons(exc: HubSpotError) -> HubSpotError:
    """Adds the per-field reasons of a refused submission to its message.

    The forms API answers 400 with a general message ("The request is not valid") and
    the reasons in ``errors[].errorType``/``message``; without them a parked delivery
    would not say what to fix.
    """
    reasons = [_reason(d) for d in exc.details]
    reasons = [r for r in reasons if r]
    if reasons and not all(r in exc.message for r in reasons):
        exc.message = f"{exc.message} ({'; '.join(reasons)})"
        exc.args = (exc.message,)
    return exc


def _reason(detail: dict[str, Any]) -> str:
    kind = detail.get("errorType")
    message = detail.get("message")
    parts = [str(p) for p in (kind, message) if p]
    return ": ".join(parts)
