"""Rendering the plugin's Jinja2 templates, with autoescaping always on.

The environment is built on first use, not at import, so loading the plugin through its
entry point costs nothing.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

import jinja2
from markupsafe import escape

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.page.chat_identity import Identity
from skypanel_hubspot_plugin.settings.model import HubSpotSettings


@cache
def environment() -> jinja2.Environment:
    # hooks/ and templates/ sit beside this package in the repository and inside it once
    # installed; the import system (a wheel, or setuptools' editable finder) knows where.
    folder = Path(str(files("skypanel_hubspot_plugin.templates")))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        auto_reload=False,  # templates ship in the wheel; no stat() per page
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context).strip()


#: Stands for the page's nonce in a cached render; the real one replaces it, escaped as
#: the template would have escaped it, so the output is byte for byte the template's.
_NONCE = "hubspot-nonce-d41d8cd98f00b204"


class _LoaderCache:
    """The loader rendered once per settings object, with and without a nonce.

    Every page of the panel asks for it and only the nonce changes from one page to the
    next; a Jinja render per page would cost several times the rest of the hook.
    """

    def __init__(self) -> None:
        self._entry: tuple[HubSpotSettings, str, str] | None = None

    def get(self, settings: HubSpotSettings, nonce: str | None) -> str:
        entry = self._entry
        if entry is None or entry[0] is not settings:
            entry = (settings, _render_loader(settings, _NONCE, None), _render_loader(settings))
            self._entry = entry  # one tuple swapped in whole: safe between threads
        if not nonce:
            return entry[2]
        return entry[1].replace(_NONCE, str(escape(nonce)))


_loaders = _LoaderCache()


def chat_loader(
    settings: HubSpotSettings, nonce: str | None = None, identity: Identity | None = None
) -> str:
    """HubSpot's chat loader ``<script>`` for this portal, or "" when chat is off or unusable.

    With an ``identity``, ``hsConversationsSettings`` is set first, so the widget greets
    the visitor as that contact.
    """
    if not settings.chat_active:
        return ""
    if identity is None:
        return _loaders.get(settings, nonce)
    return _render_loader(settings, nonce, identity)


def _render_loader(
    settings: HubSpotSettings, nonce: str | None = None, identity: Identity | None = None
) -> str:
    conversations = (
        {"identificationEmail": identity.email, "identificationToken": identity.token}
        if identity
        else None
    )
    return render(
        "chat_loader.html",
        script_host=api.chat_script_host(settings.region),
        portal_id=settings.portal_id,
        nonce=nonce,
        conversations=conversations,
    )
