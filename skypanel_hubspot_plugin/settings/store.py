"""Reading and saving settings: one cached, typed object in; validated changes out.

The page head and the event hooks read :meth:`SettingsStore.current`, which costs no
query once loaded. A save invalidates this process's cache at once and writes a new
revision row; :meth:`SettingsStore.start_watching` makes other processes sharing the
database reload: on PostgreSQL when the save's NOTIFY reaches them, on SQLite when the
database file's ``data_version`` moved (looked at every ``poll_interval`` seconds, no
query while nothing changes), elsewhere by reading that one row every ``poll_interval``.

A stored value that fails its rule (a hand edit, a secret under a key this process lacks)
never breaks a reader: it is reported once, and the value this process last read well
stays in force (the default, if it never read one).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.audit.trail import KEY_ROTATED, SETTINGS_CHANGED, Actor, record
from skypanel_hubspot_plugin.common.data_version import DataVersion, watchable
from skypanel_hubspot_plugin.common.listen import Listener, notify
from skypanel_hubspot_plugin.common.log_once import LogOnce
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.common.wakeup import wake_all
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import (
    ATTRIBUTES,
    FIELD_PARSERS,
    HubSpotSettings,
    InvalidSettings,
    ValidChanges,
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
KEPT = " Until then this process keeps using the one it read before."


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
        #: The last settings read (kept across invalidations): a stored value that fails
        #: its rule falls back to its value here, the last one read well.
        self._last: HubSpotSettings | None = None
        self._revision: str | None = None
        self._generation = 0  # bumped by every invalidation; see reload()
        self._reported: tuple[int, dict[str, str]] = (-1, {})  # problems logged, and when
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        #: The watcher's change detector on a SQLite file (None elsewhere).
        self.data_version: DataVersion | None = None

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
                self._last = settings
                self._revision = rows.get(keys.REVISION)
            # Once per change, however many threads (pages, the worker, the watcher) load
            # it: a new problem found by the watcher's reload is a change too.
            problems = dict(settings.problems)
            report = bool(problems) and self._reported != (generation, problems)
            if report:
                self._reported = (generation, problems)
        if report:
            log.error(
                "HubSpot settings ignored (the value last read well stays in force): %s",
                "; ".join(f"{k} {v}" for k, v in problems.items()),
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
                token, source = Secret(self.box.decrypt(stored, "access token")), "database"
            except SecretsError as exc:
                token = self._kept(lambda s: s.token if s.token_source == "database" else None)
                source = "database" if token is not None else None
                problems[keys.API_KEY] = str(exc) + (KEPT if token is not None else "")
        app_secret: Secret | None = None
        if stored_secret := rows.get(keys.APP_SECRET) or "":
            try:
                app_secret = Secret(self.box.decrypt(stored_secret, "app client secret"))
            except SecretsError as exc:
                app_secret = self._kept(lambda s: s.app_secret)
                problems[keys.APP_SECRET] = str(exc) + (KEPT if app_secret is not None else "")
        settings = settings_from_rows(rows, token, source)  # type: ignore[arg-type]
        last = self._last
        kept = {
            ATTRIBUTES[key]: getattr(last, ATTRIBUTES[key])
            for key in settings.problems
            if last is not None and key in ATTRIBUTES
        }
        settings = replace(settings, app_secret=app_secret, **kept)
        if problems:
            settings = replace(settings, problems={**settings.problems, **problems})
        return settings

    def _kept(self, secret_of: Callable[[HubSpotSettings], Secret | None]) -> Secret | None:
        """The secret this process read well last time, while the stored one cannot be read:
        after a key rotation elsewhere, it is the same secret under a key not given here yet."""
        last = self._last
        return secret_of(last) if last is not None else None

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

    def save(self, changes: Mapping[str, object], actor: Actor | None = None) -> HubSpotSettings:
        """Validates and writes ``changes`` in one transaction, or raises InvalidSettings and writes nothing.

        The keys whose value this changes are recorded in the audit trail, in the same
        transaction, as done by ``actor`` (the host's code when None); a save that changes
        nothing records nothing."""
        current = self.reload()
        valid = validate_changes(current, changes)
        encrypted: dict[str, str] = {}
        for key, plain in valid.secrets.items():
            try:
                encrypted[key] = self.box.encrypt(plain)
            except SecretsError as exc:
                raise InvalidSettings({key: str(exc)}) from None
        with Session(self.engine) as session:
            changed = self._changed_keys(session, valid)
            for key, value in {**valid.rows, **encrypted}.items():
                self._put(session, key, value)
            self._bump_revision(session)
            if changed:
                record(session, SETTINGS_CHANGED, actor or Actor(), {"changed": changed})
            session.commit()
        self.invalidate()
        return self.current()

    def _changed_keys(self, session: Session, valid: ValidChanges) -> list[str]:
        """The keys of ``valid`` whose stored value it changes: compared as read (a stored
        ``TRUE`` is ``true``), secrets compared decrypted (each encryption differs)."""
        changed = []
        for key, value in valid.rows.items():
            row = session.get(Setting, key)
            if row is None or row.value is None or _canonical(key, row.value) != value:
                changed.append(key)
        for key, plain in valid.secrets.items():
            stored = (row.value if (row := session.get(Setting, key)) else None) or ""
            try:
                same = bool(stored) and self.box.decrypt(stored) == plain
            except SecretsError:
                same = False  # under a key this process lacks: not known to be the same
            if not same:
                changed.append(key)
        return sorted(changed)

    def clear_token(self, actor: Actor | None = None) -> HubSpotSettings:
        """Forgets the stored token; refused while the integration is enabled."""
        if self.reload().enabled:
            raise InvalidSettings(
                {keys.API_KEY: "Disable HubSpot before removing its access token"}
            )
        with Session(self.engine) as session:
            row = session.get(Setting, keys.API_KEY)
            if row is not None and row.value:
                record(session, SETTINGS_CHANGED, actor or Actor(), {"changed": [keys.API_KEY]})
            self._put(session, keys.API_KEY, "")
            self._bump_revision(session)
            session.commit()
        self.invalidate()
        return self.current()

    def rotate_key(self, actor: Actor | None = None) -> bool:
        """Re-encrypts the stored secrets with the newest key; True when one had to be.

        Recorded in the audit trail with the secrets re-encrypted (their keys) and the new
        key's id, in the same transaction; a run with nothing to re-encrypt records nothing."""
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
            details = {"reencrypted": rotated, "keyId": self.box.primary_key_id}
            record(session, KEY_ROTATED, actor or Actor(), details)
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
        each time listening starts, for saves made while nobody listened); on SQLite, when
        the file's data_version moved; else by polling. Nothing it meets ends it: a failure
        is logged once per reason and the next look tries again."""
        listener = (
            Listener(self.engine, CHANNEL, "settings saved elsewhere")
            if self.engine.dialect.name == "postgresql"
            else None
        )
        self.data_version = DataVersion(self.engine) if watchable(self.engine) else None
        failed = LogOnce(log, "Checking HubSpot settings for changes failed; trying again")
        try:
            while not self._stop.is_set():
                try:
                    self._look(listener)
                except Exception as exc:  # the cached settings stay in force meanwhile
                    failed(exc)
                    self._stop.wait(self.poll_interval)
        finally:
            if listener is not None:
                listener.close()
            if self.data_version is not None:
                self.data_version.close()

    def _look(self, listener: Listener | None) -> None:
        """One wait for a change, and a reload when the revision row says there was one."""
        if listener is not None and not listener.listening and listener.start():
            self._check_revision()
        if listener is not None and listener.listening:
            if listener.wait(LISTEN_S, until=self._stop.is_set):
                self._check_revision()
        elif not self._stop.wait(self.poll_interval) and (
            self.data_version is None or self.data_version.changed() is not False
        ):
            self._check_revision()

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


def _canonical(key: str, stored: str) -> str | None:
    """A stored value as a save would write it; None when it does not read."""
    try:
        value = FIELD_PARSERS[key](stored)
    except Exception:  # a hand edit no rule reads: any valid save changes it
        return None
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
