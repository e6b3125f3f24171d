"""``{% load skypanel_hubspot %}``: the chat loader and the HubSpot forms in Django templates.

``{% hubspot_page_head %}`` in ``<head>`` places what the plugins add to every page (the
chat loader), with the request's CSP nonce when the host sets one (django-csp's
``request.csp_nonce``); ``{% hubspot_form "contact" %}`` places a form embed. Both render
from cached settings (no query, no HTTP call) and render nothing when HubSpot is off or
the plugin is not running. They need ``django.template.context_processors.request``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from skypanel_hubspot_plugin import PageContext
from skypanel_hubspot_plugin.django import config, lifecycle

register = template.Library()


def page_context(request: HttpRequest | None) -> PageContext:
    """The page being rendered, as the plugins' page hooks take it."""
    if request is None:
        return PageContext()
    nonce = getattr(request, "csp_nonce", None)
    page_user = config.callable_setting(config.current().page_user, "page_user")
    return PageContext(
        path=request.path,
        csp_nonce=str(nonce) if nonce else None,
        user=page_user(request) if page_user is not None else None,
    )


def _trusted(parts: list[str | None]) -> SafeString:
    # The plugins render their HTML with autoescaping and return it as trusted markup
    # (the hookspec's contract), so it is not escaped a second time here.
    return mark_safe("".join(part for part in parts if part))  # noqa: S308


@register.simple_tag(takes_context=True)
def hubspot_page_head(context: template.Context) -> SafeString:
    """What the plugins place in ``<head>``: HubSpot's chat loader when the chat is on."""
    lifecycle.ensure_started()
    page = page_context(_request(context))
    return _trusted(lifecycle.plugin_manager().hook.skypanel_page_head(page=page))


@register.simple_tag(takes_context=True)
def hubspot_form(context: template.Context, form: str) -> SafeString:
    """The HubSpot form ``form`` ("contact" or "ticket") when it is set up, else nothing."""
    lifecycle.ensure_started()
    page = page_context(_request(context))
    return _trusted(lifecycle.plugin_manager().hook.skypanel_form_embed(form=form, page=page))


def _request(context: template.Context) -> Any:
    return context.get("request")
