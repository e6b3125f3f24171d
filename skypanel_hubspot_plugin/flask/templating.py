"""Jinja globals for the app's templates: ``{{ hubspot_page_head() }}`` in the ``<head>``
and ``{{ hubspot_form("contact") }}`` where a form goes.

Both build the page's :class:`PageContext` from the request: its path, its CSP nonce
(``g.csp_nonce`` unless the host says where it keeps it) and the logged-in viewer (when
the host gives a way to find them). Both render from cached settings: no query, no HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import g, has_app_context, has_request_context, request
from markupsafe import Markup

from skypanel_hubspot_plugin.page.form_embed import jinja_globals as form_globals
from skypanel_hubspot_plugin.payloads import PageContext, User

log = logging.getLogger(__name__)

NonceGetter = Callable[[], "str | None"]
ViewerGetter = Callable[[], "User | None"]


def default_nonce() -> str | None:
    """``g.csp_nonce``, where hosts (and Flask-Talisman's ``csp_nonce()``) usually keep it."""
    nonce = getattr(g, "csp_nonce", None) if has_app_context() else None
    return nonce if isinstance(nonce, str) and nonce else None


def jinja_globals(
    pm: Any, nonce: NonceGetter, viewer: ViewerGetter | None
) -> dict[str, Callable[..., Markup]]:
    """``hubspot_page_head`` and ``hubspot_form``, for ``app.jinja_env.globals``."""
    place_form = form_globals(pm)["hubspot_form"]

    def page(user: User | None, tracking_consent: bool | None) -> PageContext:
        return PageContext(
            path=request.path if has_request_context() else "/",
            csp_nonce=nonce(),
            user=user if user is not None else (viewer() if viewer else None),
            tracking_consent=tracking_consent,
        )

    def hubspot_page_head(user: User | None = None, tracking_consent: bool | None = None) -> Markup:
        """Every plugin's ``<head>`` additions (the chat loader) for this request."""
        try:
            parts = pm.hook.skypanel_page_head(page=page(user, tracking_consent))
        except Exception:  # a plugin failing here must not take every page down
            log.exception("A plugin failed in skypanel_page_head; page rendered without it")
            return Markup("")
        # The hook's contract: implementations return trusted HTML, escaped where it must be.
        return Markup("".join(p for p in parts if p))  # noqa: S704

    def hubspot_form(
        form: str,
        user: User | None = None,
        tracking_consent: bool | None = None,
        page_context: PageContext | None = None,
    ) -> Markup:
        """HubSpot's embed of ``form`` ("contact" or "ticket") for this request."""
        return place_form(form, page_context or page(user, tracking_consent))

    return {"hubspot_page_head": hubspot_page_head, "hubspot_form": hubspot_form}
