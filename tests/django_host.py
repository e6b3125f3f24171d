"""A Django panel for the adapter's tests, on the test's own database.

Importing this module sets Django up with ``django_settings``; test modules import
Django's models from here (``DjangoUser``, ...), as they need Django set up first. :func:`django_database`
points Django's default database at an SQLAlchemy engine's database (the ``engine``
fixture's SQLite file or fresh PostgreSQL schema) and makes the auth and session tables
there; :func:`started` starts the plugin through the adapter on it, enabled, against the
fake HubSpot, with no worker of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import django
from sqlalchemy import Engine

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_settings")
django.setup()

from django.contrib.auth.models import Group, Permission  # noqa: E402
from django.contrib.auth.models import User as DjangoUser  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import override_settings  # noqa: E402

from skypanel_hubspot_plugin import runtime  # noqa: E402
from skypanel_hubspot_plugin.delivery.worker import Worker  # noqa: E402
from skypanel_hubspot_plugin.django import database, lifecycle  # noqa: E402
from skypanel_hubspot_plugin.runtime import Runtime  # noqa: E402
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN  # noqa: E402

ENABLED = {
    "hubspot_enabled": True,
    "hubspot_portal_id": str(FAKE_PORTAL_ID),
    "hubspot_api_key": FAKE_TOKEN,
    "hubspot_ticket_enabled": True,
    "hubspot_rate_limit": "1000",
}


def django_settings_of(engine: Engine) -> dict[str, Any]:
    """Django's DATABASES entry for the database ``engine`` opens."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url.database}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.database,
        "USER": url.username or "",
        "HOST": url.host or "",
        "PORT": str(url.port or ""),
        "OPTIONS": {"options": url.query["options"]},  # the schema's search_path
    }


def use_database(settings: dict[str, Any]) -> None:
    """Django's default database becomes ``settings`` (for this thread's next query)."""
    connections["default"].close()
    del connections["default"]
    connections.settings = connections.configure_settings({"default": settings})


def django_database(engine: Engine) -> Iterator[dict[str, Any]]:
    use_database(django_settings_of(engine))
    with connections["default"].schema_editor() as editor:
        for model in (ContentType, Permission, Group, DjangoUser, Session):
            editor.create_model(model)
    try:
        yield connections.settings["default"]
    finally:
        lifecycle.stop()
        runtime.stop()
        database.dispose()
        connections["default"].close()


def started(secret_key: str, base_url: str, **more: object) -> Iterator[Runtime]:
    """The plugin started by the adapter, as a first request would, and enabled."""
    with override_settings(
        SKYPANEL_HUBSPOT={
            "SECRET_KEYS": [secret_key],
            "HUBSPOT_BASE_URL": base_url,
            "RUN_WORKER": False,
            **more,
        }
    ):
        lifecycle.ensure_started()
        rt = runtime.current()
        rt.store.save(ENABLED)
        try:
            yield rt
        finally:
            lifecycle.stop()


def drain(rt: Runtime) -> None:
    """Delivers everything due, as a worker would, until nothing is left to claim."""
    worker = Worker(rt)
    while worker.run_once():
        pass
