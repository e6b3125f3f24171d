"""The panel's own data: support tickets of its accounts (Django's users)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SupportTicket(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=20, default="open")
