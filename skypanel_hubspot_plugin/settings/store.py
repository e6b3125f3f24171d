"""Reading and saving settings: one cached, typed object in; validated changes out.

The page head and the event hooks read :meth:`SettingsStore.current`, which costs no
query once loaded. A save invalidates this process's cache at once and writes a new
revision row; :meth:`SettingsStore.start_watching` makes other processes sharing the
database reload: on PostgreSQL when the save's NOTIFY reaches them (no query while nothing
changes), elsewhere by reading that one row every ``poll_interval`` seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.common.listen import Listener, notify
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.common.wakeup import wake_all
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import (
    HubSpotSettings,
    InvalidSettings,
    parse_token,
    settings_from_rows,
    validate_changes,
)
from skypanel_hubspot_plugin.settings.secrets import HOW_TO_SET_A_KEY, SecretBox, SecretsError
from skypanel_hubspot_plugin.settings.table import Setting, ensure_tables, install_defaults

log = logging.getLogger(__name__)

TOKEN_ENV = "SKYPANEL_HUBSPOT_ACCESS_TOKEN"
#: Notified by every save on PostgreSQL; the other processes' watchers LISTEN on it.
CHANNEL = "skypanel_hubspot_settings"
#: One wait of a listening watcher; when it ends with nothing heard it asks nothing, it
#: only waits again.
LISTEN_S = 3600.0
LOADED_KEYS = (*keys.DEFAULTS, keys.REVISION)


@dataclass(frozen=True)
class TokenStatus:
    """What an admin may know about the token: whether one is set, where from, its last four."""

    is_set: bool
    source: str | None
    last4: str | None
    key_id: str | None
    encrypted: bool


class SettingsStore:
    """The plugin's settings on the host's database, cached in process."""

    def __init__(self, engine: Engine, box: SecretBox, *, poll_interval: float = 2.0) -> None:
        self.engine = engine
        self.box = box
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        self._cached: HubSpotSettings | None = None
        self._revision: str | None = None
        self._generation = 0  # bumped by every invalidation; see reload()
        self._reported = -1  # the generation whose problems were logged
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SettingsStore(engine={self.engine.url!r}, box={self.box!r})"

    # -- setup -----------------------------------------------------------------------------

    def setup(self) -> None:
        """Creates missing tables and default rows; encrypts a plaintext token left by an old install."""
        ensure_tables(self.engine)
        install_defaults(self.engine)
        self._encrypt_legacy_plaintext()

    def _encrypt_legacy_plaintext(self) -> None:
        with Session(self.engine) as session:
            row = session.get(Setting, keys.API_KEY)
            if row is None or not row.value or self.box.is_encrypted(row.value):
                return
            if self.box.primary_key_id is None:
                log.warning(
                    "The stored HubSpot access token is in plain text and no encryption "
                    "key is configured to encrypt it. %s",
                    HOW_TO_SET_A_KEY,
                )
                return
            row.value = self.box.encrypt(row.value)
            session.add(row)
            self._bump_revision(session)
            session.commit()
        log.info("Encrypted the plain-text HubSpot access token found in the settings table.")
        self.invalidate()

    # -- reading ---------------------------------------------------------------------------

    def current(self) -> HubSpotSettings:
        """The cached settings; the first call (and the first after a change) runs one query."""
        cached = self._cached
        if cached is not None:
            return cached
        return self.reload()

    def reload(self) -> HubSpotSettings:
        """Reads the settings and caches them, unless the cache was invalidated meanwhile.

        A reload on another thread (the watcher, the worker) may read the rows just before a
        save commits and finish after the save invalidated the cache; caching what it read
        would serve the old settings until the next poll. So only a reload that saw no
        invalidation while it read stores its result."""
        with self._lock:
            generation = self._generation
        with Session(self.engine) as session:
            rows = {
                s.key: s.value
                for s in session.exec(select(Setting).where(col(Setting.key).in_(LOADED_KEYS)))
            }
        settings = self._settings_from(rows)
        with self._lock:
            if generation == self._generation:
                self._cached = settings
                self._revision = rows.get(keys.REVISION)
            # Once per change, however many threads (pages, the worker) load it at once.
            report = bool(settings.problems) and self._reported != generation
            if report:
                self._reported = generation
        if report:
            log.error(
                "HubSpot settings ignored: %s",
                "; ".join(f"{k} {v}" for k, v in settings.problems.items()),
            )
        return settings

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None
            self._generation += 1
        wake_all()  # a sleeping worker may have work now (HubSpot just enabled, a new token)

    def _settings_from(self, rows: Mapping[str, str | None]) -> HubSpotSettings:
        problems: dict[str, str] = {}
        token: Secret | None = None
        source: str | None = None
        env_token = os.environ.get(TOKEN_ENV, "")
        stored = rows.get(keys.API_KEY) or ""
        if env_token.strip():
            try:
                token, source = Secret(parse_token(env_token)), "environment"
            except ValueError as exc:  # the message says what is wrong, never the value
                problems[keys.API_KEY] = (
                    f"the access token in {TOKEN_ENV} {exc}; fix or unset {TOKEN_ENV} "
                    "(while it is set, the saved token is not used)"
                )
        elif stored:
            try:
                token, source = Secret(self.box.decrypt(stored)), "database"
            except SecretsError as exc:
                problems[keys.API_KEY] = str(exc)
        app_secret: Secret | None = None
        if stored_secret := rows.get(keys.APP_SECRET) or "":
            try:
                app_secret = Secret(self.box.decrypt(stored_secret, "app client secret"))
            except SecretsError as exc:
                problems[keys.APP_SECRET] = str(exc)
        settings = settings_from_rows(rows, token, source)  # type: ignore[arg-type]
        settings = replace(settings, app_secret=app_secret)
        if problems:
            settings = replace(settings, problems={**settings.problems, **problems})
        return settings

    def token_status(self) -> TokenStatus:
        """Whether a token is set and its last four characters; never the token."""
        settings = self.current()
        with Session(self.engine) as session:
            row = session.get(Setting, keys.API_KEY)
        stored = (row.value if row else None) or ""
        return TokenStatus(
            is_set=settings.token is not None,
            source=settings.token_source,
            last4=settings.token.last4 if settings.token else None,
            key_id=self.box.key_id_of(stored),
            encrypted=self.box.is_encrypted(stored),
        )

    # -- writing ---------------------------------------------------------------------------

    def save(self, changes: Mapping[str, object]) -> HubSpotSettings:
        """Validates and writes ``changes`` in one transaction, or raises InvalidSettings and writes nothing."""
        current = self.reload()
        valid = validate_changes(current, changes)
        encrypted: dict[str, str] = {}
        for key, plain in valid.secrets.items():
            try:
                encrypted[key] = self.box.encrypt(plain)
            except SecretsError as exc:
                raise InvalidSettings({key: str(exc)}) from None
        with Session(self.engine) as session:
            for key, value in {**valid.rows, **encrypted}.items():
                self._put(session, key, value)
            self._bump_revision(session)
            session.commit()
        self.invalidate()
        return self.current()

    def clear_token(self) -> HubSpotSettings:
        """Forgets the stored token; refused while the integration is enabled."""
        if self.reload().enabled:
            raise InvalidSettings(
                {keys.API_KEY: "Disable HubSpot before removing its access token"}
            )
        with Session(self.engine) as session:
            self._put(session, keys.API_KEY, "")
            self._bump_revision(session)
            session.commit()
        self.invalidate()
        return self.current()

    def rotate_key(self) -> bool:
        """Re-encrypts the stored secrets with the newest key; True when one had to be."""
        with Session(self.engine) as session:
            rotated = []
            for key in keys.SECRET_KEYS:
                row = session.get(Setting, key)
                if row is None or not row.value or not self.box.needs_rewrite(row.value):
                    continue
                row.value = self.box.reencrypt(row.value)
                session.add(row)
                rotated.append(key)
            if not rotated:
                return False
            self._bump_revision(session)
            session.commit()
        self.invalidate()
        log.info("%s re-encrypted with key %s", ", ".join(rotated), self.box.primary_key_id)
        return True

    @staticmethod
    def _put(session: Session, key: str, value: str) -> None:
        row = session.get(Setting, key)
        if row is None:
            row = Setting(key=key, value=value, description=keys.DESCRIPTIONS.get(key))
        else:
            row.value = value
        session.add(row)

    def _bump_revision(self, session: Session) -> None:
        self._put(session, keys.REVISION, uuid.uuid4().hex)
        if self.engine.dialect.name == "postgresql":
            session.execute(notify(CHANNEL))  # leaves when the save commits

    # -- cross-process invalidation --------------------------------------------------------

    def start_watching(self) -> None:
        """Starts a daemon thread that reloads when another process saves settings."""
        if self._watcher is not None:
            return
        self._stop.clear()
        self._watcher = threading.Thread(
            target=self._watch, name="hubspot-settings-watch", daemon=True
        )
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    def _watch(self) -> None:
        """Reloads when another process saved: told by NOTIFY on PostgreSQL (checking once
        each time listening starts, for saves made while nobody listened), else polling."""
        listener = (
            Listener(self.engine, CHANNEL, "settings saved elsewhere")
            if self.engine.dialect.name == "postgresql"
            else None
        )
        try:
            while not self._stop.is_set():
                if listener is not None and not listener.listening and listener.start():
                    self._check_revision()
                if listener is not None and listener.listening:
                    if listener.wait(LISTEN_S, until=self._stop.is_set):
                        self._check_revision()
                elif not self._stop.wait(self.poll_interval):
                    self._check_revision()
        finally:
            if listener is not None:
                listener.close()

    def _check_revision(self) -> None:
        try:
            with Session(self.engine) as session:
                row = session.get(Setting, keys.REVISION)
            revision = row.value if row else None
        except Exception:  # the database may be briefly away; keep serving the cache
            log.warning("Could not check HubSpot settings for changes", exc_info=True)
            return
        if revision != self._revision:
            self.reload()
            wake_all()
