"""``HubSpot(app)`` / ``hubspot.init_app(app, ...)``: the plugin in a Flask application.

Configured from ``app.config`` (see :data:`CONFIG_DEFAULTS`), it registers the admin and
public blueprints, the Jinja globals and the ``flask hubspot`` commands, and starts the
plugin once per process, on the first request or event (not at import: under ``flask run
--reload`` the watching process serves nothing and starts nothing, and a pre-forking
server's parent starts no thread its children would lose). It stops the plugin at exit.

Events go through the helpers (``hubspot.user_created(user)``), which record them in
Flask-SQLAlchemy's ``db.session`` when the app has one: its commit delivers them, its
rollback (or a request that ends without a commit) sends nothing.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import pluggy
from flask import Blueprint, Flask, current_app
from sqlalchemy import Engine

from skypanel_hubspot_plugin import plugin_manager as new_plugin_manager
from skypanel_hubspot_plugin.cli_sync import users_source
from skypanel_hubspot_plugin.payloads import HostContext, ListUsers, Ticket, User

from .commands import hubspot_commands
from .routes import Check, Identify, admin_blueprint, public_blueprint
from .templating import NonceGetter, ViewerGetter, default_nonce, jinja_globals

log = logging.getLogger(__name__)

#: The keys the extension reads from ``app.config``, and their defaults.
CONFIG_DEFAULTS: dict[str, Any] = {
    # Fernet keys, newest first (a list, or one comma-separated string); when empty, the
    # SKYPANEL_HUBSPOT_SECRET_KEYS environment variable.
    "SKYPANEL_HUBSPOT_SECRET_KEYS": (),
    # ``package.module:factory``: factory(engine) returns list_users(after, limit), for
    # "Sync all contacts" and ``flask hubspot sync-contacts``.
    "SKYPANEL_HUBSPOT_USERS": None,
    # The panel's address as the internet reaches it, for webhook signatures.
    "SKYPANEL_HUBSPOT_PUBLIC_BASE_URL": None,
    # HubSpot's API address (a sandbox, the fake HubSpot); else the environment's, else
    # https://api.hubapi.com.
    "SKYPANEL_HUBSPOT_BASE_URL": None,
    "SKYPANEL_HUBSPOT_API_VERSION": None,
    # False when ``flask hubspot worker`` processes deliver instead of a thread of the app.
    "SKYPANEL_HUBSPOT_RUN_WORKER": True,
}


class HubSpot:
    """The Flask extension: ``HubSpot(app, require_admin=...)`` or, with an app factory,
    ``hubspot = HubSpot()`` then ``hubspot.init_app(app, require_admin=...)``."""

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self.app: Flask | None = None
        self.plugin_manager: pluggy.PluginManager | None = None
        self._engine: Engine | None = None
        self._session: Any = None
        self._list_users: ListUsers | None = None
        self._public: Blueprint | None = None
        self._started_pid: int | None = None
        self._lock = threading.Lock()
        if app is not None:
            self.init_app(app, **options)

    def init_app(
        self,
        app: Flask,
        *,
        require_admin: Check,
        csrf_check: Check | None = None,
        engine: Engine | None = None,
        session: Any = None,
        plugin_manager: pluggy.PluginManager | None = None,
        list_users: ListUsers | None = None,
        csp_nonce: NonceGetter = default_nonce,
        viewer: ViewerGetter | None = None,
        admin_identity: Identify | None = None,
    ) -> None:
        """Wires the plugin into ``app``.

        ``require_admin()`` is called in every admin request: true lets it through, false
        refuses it (403); it may ``abort(401)`` for a caller who is not logged in.
        ``csrf_check()`` guards every state-changing admin route the same way; without it,
        Flask-WTF's ``CSRFProtect`` on the app does. ``engine`` and ``session`` default to
        Flask-SQLAlchemy's ``db.engine`` and ``db.session``. ``plugin_manager`` is the
        host's (with its own hook implementations); a new one by default. ``csp_nonce()``
        gives the request's CSP nonce (``g.csp_nonce`` by default); ``viewer()`` the
        logged-in :class:`User` for the chat, or None. ``admin_identity()`` names the admin
        of an admin request for the audit trail (by default the string ``require_admin()``
        returned, if it returned one).
        """
        if not callable(require_admin):
            raise TypeError(
                "require_admin must be a callable that says whether the caller is an admin"
            )
        for key, value in CONFIG_DEFAULTS.items():
            app.config.setdefault(key, value)
        self.app = app
        self.plugin_manager = plugin_manager or new_plugin_manager()
        self._engine = engine
        self._session = session
        self._list_users = list_users
        app.extensions["skypanel_hubspot"] = self
        app.register_blueprint(
            admin_blueprint(
                self.plugin_manager,
                require_admin=require_admin,
                csrf_check=csrf_check,
                admin_identity=admin_identity,
            )
        )
        self._public = public_blueprint(self.plugin_manager)
        app.register_blueprint(self._public)
        app.jinja_env.globals.update(jinja_globals(self.plugin_manager, csp_nonce, viewer))
        app.cli.add_command(hubspot_commands(app.config, self.engine, self.plugin_manager))
        # First of the app's request hooks, so the plugin runs before any other (Flask-WTF's
        # CSRF check included: the webhook route is exempted from it here).
        app.before_request_funcs.setdefault(None, []).insert(0, self._before_request)

    # -- the host's events ---------------------------------------------------------------------

    def user_created(self, user: User, *, session: Any = None) -> None:
        """Records the new user in the host's transaction (``db.session`` by default)."""
        self._fire("skypanel_on_user_created", session, user=user)

    def user_updated(self, user: User, changed: Sequence[str], *, session: Any = None) -> None:
        self._fire("skypanel_on_user_updated", session, user=user, changed=frozenset(changed))

    def user_deleted(self, user: User, *, session: Any = None) -> None:
        self._fire("skypanel_on_user_deleted", session, user=user)

    def ticket_created(self, ticket: Ticket, user: User, *, session: Any = None) -> None:
        self._fire("skypanel_on_ticket_created", session, ticket=ticket, user=user)

    def ticket_updated(
        self, ticket: Ticket, changed: Sequence[str], *, session: Any = None
    ) -> None:
        self._fire("skypanel_on_ticket_updated", session, ticket=ticket, changed=frozenset(changed))

    def _fire(self, hook: str, session: Any, **event: Any) -> None:
        self.start()
        session = session if session is not None else self.session()
        getattr(self._manager().hook, hook)(session=session, **event)

    # -- what the extension holds --------------------------------------------------------------

    def engine(self) -> Engine:
        """The engine the plugin keeps its tables on: the one given, else Flask-SQLAlchemy's."""
        if self._engine is not None:
            return self._engine
        db = self._app().extensions.get("sqlalchemy")
        if db is None:
            raise RuntimeError(
                "HubSpot.init_app needs engine=... when the app has no Flask-SQLAlchemy"
            )
        with self._app().app_context():
            engine: Engine = db.engine
        return engine

    def session(self) -> Any:
        """The session events are recorded in: the one given, else Flask-SQLAlchemy's
        ``db.session``, else None (each event then commits on its own)."""
        if self._session is not None:
            return self._session
        db = self._app().extensions.get("sqlalchemy")
        return None if db is None else db.session

    def users(self, engine: Engine) -> ListUsers | None:
        if self._list_users is not None:
            return self._list_users
        spec = self._app().config["SKYPANEL_HUBSPOT_USERS"]
        return users_source(spec, engine) if spec else None

    def host_context(self) -> HostContext:
        config = self._app().config
        engine = self.engine()
        keys = config["SKYPANEL_HUBSPOT_SECRET_KEYS"]
        if isinstance(keys, str):
            keys = [k.strip() for k in keys.split(",") if k.strip()]
        return HostContext(
            engine=engine,
            secret_keys=tuple(keys),
            hubspot_base_url=config["SKYPANEL_HUBSPOT_BASE_URL"],
            run_worker=bool(config["SKYPANEL_HUBSPOT_RUN_WORKER"]),
            list_users=self.users(engine),
            plugin_manager=self._manager(),
            hubspot_api_version=config["SKYPANEL_HUBSPOT_API_VERSION"],
            public_base_url=config["SKYPANEL_HUBSPOT_PUBLIC_BASE_URL"],
        )

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the plugin in this process if it is not running here yet (a forked child
        starts its own); the first request and the first event call it."""
        if self._started_pid == os.getpid():
            return
        with self._lock:
            if self._started_pid == os.getpid():
                return
            first = self._started_pid is None
            self._manager().hook.skypanel_startup(host=self.host_context())
            self._started_pid = os.getpid()
        if first:
            atexit.register(self.shutdown)

    def shutdown(self) -> None:
        """Stops the plugin's worker and watchers (at exit; a test may call it)."""
        with self._lock:
            if self._started_pid != os.getpid():
                return
            self._started_pid = None
            self._manager().hook.skypanel_shutdown()

    def _before_request(self) -> None:
        self.start()
        csrf = current_app.extensions.get("csrf")  # Flask-WTF's CSRFProtect, if any
        if csrf is not None and self._public is not None:
            csrf.exempt(self._public)  # HubSpot signs its webhooks; it sends no token

    def _app(self) -> Flask:
        if self.app is None:
            raise RuntimeError("HubSpot.init_app(app, ...) has not been called")
        return self.app

    def _manager(self) -> pluggy.PluginManager:
        if self.plugin_manager is None:
            raise RuntimeError("HubSpot.init_app(app, ...) has not been called")
        return self.plugin_manager
