"""What every page of the demo panel shares: the plugin manager, the database, the templates.

``render`` is the one way a page is built: it asks the plugins for the page's ``<head>``
additions (``skypanel_page_head``, with this response's CSP nonce), and hands the template
the CSRF token. Templates autoescape everything; only the plugins' head HTML, which the
hook contract makes trusted markup, is inserted as is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import pluggy
from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.responses import Response

from skypanel_hubspot_plugin.demo import auth
from skypanel_hubspot_plugin.payloads import PageContext

from .config import DemoConfig
from .csrf import csrf_token
from .panel_tables import PanelUser

log = logging.getLogger(__name__)


def templates() -> Jinja2Templates:
    folder = Path(str(files(__package__) / "templates"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


@dataclass(frozen=True)
class DemoHost:
    """The running demo panel, kept on ``app.state.host``."""

    pm: pluggy.PluginManager
    engine: Engine
    config: DemoConfig
    templates: Jinja2Templates

    def page_head(self, page: PageContext) -> str:
        # A plugin failing here must not take every page down with it.
        try:
            parts = self.pm.hook.skypanel_page_head(page=page)
        except Exception:
            log.exception("A plugin failed in skypanel_page_head; page rendered without it")
            return ""
        return "".join(part for part in parts if part)


def get_host(request: Request) -> DemoHost:
    host: DemoHost = request.app.state.host
    return host


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    viewer: PanelUser | None = None,
    status_code: int = 200,
) -> Response:
    host = get_host(request)
    nonce: str = request.state.csp_nonce
    page = PageContext(
        path=request.url.path, csp_nonce=nonce, user=viewer.as_user() if viewer else None
    )
    return host.templates.TemplateResponse(
        request,
        name,
        {
            "csp_nonce": nonce,
            "csrf_token": csrf_token(request),
            "plugin_head": host.page_head(page),
            "is_admin": auth.is_admin(request),
            "viewer": viewer,
            "page": page,
            **(context or {}),
        },
        status_code=status_code,
    )
