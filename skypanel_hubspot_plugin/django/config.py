"""The adapter's settings, read from ``settings.SKYPANEL_HUBSPOT`` and checked once.

A mistyped key or a value of the wrong kind stops Django's start with an
``ImproperlyConfigured`` naming the key and what is wrong (never its value: the
encryption keys live here), instead of leaving HubSpot silently off.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING = "SKYPANEL_HUBSPOT"


@dataclass(frozen=True)
class Config:
    """``SKYPANEL_HUBSPOT`` as read: each field is the upper-case key of the same name.

    ``database``: the alias of the Django database the plugin keeps its tables in and
    records events on (``"default"``). ``secret_keys``: Fernet keys, newest first (else
    ``SKYPANEL_HUBSPOT_SECRET_KEYS``). ``users``: ``"module:name"`` of the panel's
    ``list_users(after, limit)``, for ``hubspot_sync_contacts``. ``plugins``: modules (or
    ``"module:name"`` objects) holding the panel's own hook implementations, such as
    ``skypanel_on_hubspot_ticket_changed``. ``run_worker``: deliver from a thread of each
    web process (True) or only from ``manage.py hubspot_worker`` (False).
    ``admin_permission``: the permission (``"app_label.codename"``) the admin routes
    require; unset, they require an active staff user. ``page_user``: ``"module:name"`` of
    a ``page_user(request) -> User | None`` naming the viewer for the chat.
    ``hubspot_base_url``, ``public_base_url``, ``api_version``: as in ``HostContext``.
    """

    database: str = "default"
    secret_keys: tuple[str, ...] = ()
    users: str | None = None
    plugins: tuple[str, ...] = ()
    run_worker: bool = True
    admin_permission: str | None = None
    page_user: str | None = None
    hubspot_base_url: str | None = None
    public_base_url: str | None = None
    api_version: str | None = None


_STRINGS = ("database", "users", "admin_permission", "page_user")
_URLS = ("hubspot_base_url", "public_base_url", "api_version")
_LISTS = ("secret_keys", "plugins")


def _problem(key: str, what: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{SETTING}[{key.upper()!r}] {what}")


def read(raw: object) -> Config:
    """``raw`` (the setting's value) as a :class:`Config`, or the first problem found."""
    if raw is None:
        return Config()
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(f"{SETTING} must be a dict, not {type(raw).__name__}")
    fields = set(Config.__dataclass_fields__)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.lower() if isinstance(key, str) else ""
        if name not in fields or key != name.upper():
            known = ", ".join(sorted(f.upper() for f in fields))
            raise ImproperlyConfigured(f"{SETTING} has an unknown key {key!r}; known: {known}")
        if name in _LISTS:
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise _problem(name, "must be a list of strings")
            if not all(isinstance(v, str) and v.strip() for v in value):
                raise _problem(name, "must hold non-empty strings only")
            values[name] = tuple(v.strip() for v in value)
        elif name == "run_worker":
            if not isinstance(value, bool):
                raise _problem(name, "must be True or False")
            values[name] = value
        elif value is not None:
            if not isinstance(value, str) or not value.strip():
                raise _problem(name, "must be a non-empty string")
            values[name] = value.strip()
    config = Config(**values)
    for spec in (config.users, config.page_user):
        if spec is not None and not _looks_importable(spec, attribute=True):
            key = "users" if spec == config.users else "page_user"
            raise _problem(key, "must look like package.module:name")
    for spec in config.plugins:
        if not _looks_importable(spec, attribute=False):
            raise _problem("plugins", f"holds {spec!r}, which is not package.module[:name]")
    if config.admin_permission is not None and "." not in config.admin_permission:
        raise _problem("admin_permission", "must look like app_label.codename")
    return config


def _looks_importable(spec: str, *, attribute: bool) -> bool:
    module, sep, name = spec.partition(":")
    dotted = all(part.isidentifier() for part in module.split("."))
    if attribute:
        return dotted and bool(sep) and name.isidentifier()
    return dotted and (not sep or name.isidentifier())


def current() -> Config:
    """The configuration in force (read on each call: Django's ``override_settings`` works)."""
    return read(getattr(settings, SETTING, None))


def imported(spec: str, key: str) -> Any:
    """``"module:name"`` (or ``"module"``) → that object; a failure names the setting key."""
    module_name, _, name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, name) if name else module
    except (ImportError, AttributeError) as exc:
        raise _problem(key, f"names {spec!r}, which cannot be imported: {exc}") from None


def callable_setting(spec: str | None, key: str) -> Callable[..., Any] | None:
    if spec is None:
        return None
    value = imported(spec, key)
    if not callable(value):
        raise _problem(key, f"names {spec!r}, which is not callable")
    return value  # type: ignore[no-any-return]
