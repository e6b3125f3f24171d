"""A tiny hosting panel: accounts (Django's users), support tickets, and HubSpot.

The HubSpot part is three lines: the app in INSTALLED_APPS, SKYPANEL_HUBSPOT below, and
the plugin's URLs in panel/urls.py. Keys come from SKYPANEL_HUBSPOT_SECRET_KEYS when
SECRET_KEYS is not set here (``skypanel-hubspot generate-key`` makes one).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("PANEL_SECRET_KEY", "example-panel-not-for-production")
DEBUG = True
USE_TZ = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PANEL_DATABASE", str(BASE_DIR / "panel.sqlite3")),
    }
}
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "panel",
    "skypanel_hubspot_plugin.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "panel.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
LOGIN_URL = "/signup"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

SKYPANEL_HUBSPOT = {
    "USERS": "panel.hubspot_hooks:list_users",  # for manage.py hubspot_sync_contacts
    "PLUGINS": ["panel.hubspot_hooks"],  # the panel's skypanel_on_hubspot_ticket_changed
    "PUBLIC_BASE_URL": os.environ.get("PANEL_PUBLIC_URL", "http://localhost:8000"),
}
