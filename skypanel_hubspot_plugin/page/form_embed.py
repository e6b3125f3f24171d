"""HubSpot's embed of the configured contact or ticket form, for any spot of any page.

A host places a form through the ``skypanel_form_embed`` hook, or from its Jinja2
templates with the global :func:`jinja_globals` gives them. The markup is HubSpot's v2
embed code for the portal's region, rendered from ``templates/form_embed.html``: a target
``<div>`` with an id of its own (two forms on one page never collide) and two scripts
carrying the page's CSP nonce. Every value reaches the inline script through ``tojson``,
so even a value that escaped the settings' checks cannot end the script early.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from skypanel_hubspot_plugin.hubspot import forms_api
from skypanel_hubspot_plugin.page.rendering import render
from skypanel_hubspot_plugin.payloads import PageContext
from skypanel_hubspot_plugin.settings.model import HubSpotSettings


class UnknownForm(ValueError):
    """The host asked for a form the plugin does not have."""

    def __init__(self, form: object) -> None:
        names = " or ".join(repr(f) for f in forms_api.FORMS)
        super().__init__(f"form must be {names}, not {form!r}")


def form_guid(settings: HubSpotSettings, form: str) -> str:
    """The configured HubSpot form GUID for the panel's ``form`` ("" when unset)."""
    if form == "contact":
        return settings.contact_form_id
    if form == "ticket":
        return settings.ticket_form_id
    raise UnknownForm(form)


def form_embed(settings: HubSpotSettings, form: str, page: PageContext) -> str:
    """HubSpot's embed of ``form`` for ``page``, or "" when there is nothing to show.

    Nothing while the integration is off or the form's id is unset, and nothing when the
    visitor refused tracking: HubSpot's form script is HubSpot's JavaScript on the page,
    which reads the visitor's tracking cookie and reports the page with every submission.
    """
    guid = form_guid(settings, form)
    if not (settings.enabled and settings.portal_id and guid) or page.tracking_consent is False:
        return ""
    return embed_html(
        form=form,
        region=settings.region,
        portal_id=settings.portal_id,
        form_id=guid,
        nonce=page.csp_nonce,
    )


def embed_html(*, form: str, region: str, portal_id: str, form_id: str, nonce: str | None) -> str:
    """The embed markup for these values, whatever they are (checked or not)."""
    return render(
        "form_embed.html",
        form=form,
        target_id=f"hubspot-form-{uuid.uuid4().hex[:12]}",
        script_url=forms_api.embed_script_url(region),
        region=region,
        portal_id=portal_id,
        form_id=form_id,
        nonce=nonce,
    )


def jinja_globals(pm: Any) -> dict[str, Callable[[str, PageContext], Markup]]:
    """Globals for a host's Jinja2 environment: ``env.globals.update(jinja_globals(pm))``.

    Templates then write ``{{ hubspot_form("contact", page) }}``, ``page`` being the
    request's :class:`PageContext` (with its CSP nonce): every plugin's embed of that
    form, as trusted markup that autoescaping leaves alone.
    """

    def hubspot_form(form: str, page: PageContext) -> Markup:
        parts = pm.hook.skypanel_form_embed(form=form, page=page)
        # The hook's contract: implementations return trusted HTML, escaped where it must be.
        return Markup("".join(p for p in parts if p))  # noqa: S704

    return {"hubspot_form": hubspot_form}
