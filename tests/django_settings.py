"""Django settings of the adapter's tests: a bare panel with auth, sessions and the HubSpot
app. The database comes from ``SKYPANEL_TEST_DJANGO_DATABASE`` (JSON) so a worker process
started by a test lands on the test's database; in process, tests point Django at theirs."""

from __future__ import annotations

import json
import os

SECRET_KEY = "adapter-tests-only"
USE_TZ = True
ALLOWED_HOSTS = ["testserver", "localhost"]
DATABASES = {
    "default": json.loads(
        os.environ.get(
            "SKYPANEL_TEST_DJANGO_DATABASE",
            '{"ENGINE": "django.db.backends.sqlite3", "NAME": "unused.sqlite3"}',
        )
    )
}
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "skypanel_hubspot_plugin.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "django_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
SKYPANEL_HUBSPOT = {"RUN_WORKER": False}
