"""The demo panel's own forms, sign-up and new ticket: what they accept and what they refuse.

This is the panel's validation, done before anything is stored or any hook fires; the
plugin validates again for HubSpot's sake, but a panel must not rely on a plugin for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PRIORITIES = (("low", "Low"), ("medium", "Medium"), ("high", "High"))
CATEGORIES = (
    ("technical", "Technical problem"),
    ("billing", "Billing"),
    ("feature", "Feature request"),
    ("general", "General question"),
)
STATUSES = (
    ("open", "Open"),
    ("waiting", "Waiting on you"),
    ("in_progress", "In progress"),
    ("closed", "Closed"),
)
#: What a page shows for a stored code; an unknown code is shown as it is.
LABELS = {"priority": dict(PRIORITIES), "category": dict(CATEGORIES), "status": dict(STATUSES)}


def _too_long(value: str, limit: int) -> str | None:
    return f"Use at most {limit} characters" if len(value) > limit else None


@dataclass(frozen=True)
class SignUp:
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""

    @classmethod
    def cleaned(cls, **raw: str) -> SignUp:
        values = {k: v.strip() for k, v in raw.items()}
        values["email"] = values.get("email", "").lower()
        return cls(**values)

    def errors(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not self.email:
            errors["email"] = "Enter your email address"
        elif len(self.email) > 254 or not EMAIL.fullmatch(self.email):
            errors["email"] = "Enter an email address like name@example.com"
        if not self.first_name:
            errors["first_name"] = "Enter your first name"
        limits = {"first_name": 100, "last_name": 100, "company": 200, "phone": 50}
        for name, limit in limits.items():
            if name not in errors and (problem := _too_long(getattr(self, name), limit)):
                errors[name] = problem
        return errors


@dataclass(frozen=True)
class NewTicket:
    subject: str = ""
    content: str = ""
    priority: str = "medium"
    category: str = "general"

    @classmethod
    def cleaned(cls, **raw: str) -> NewTicket:
        return cls(**{k: v.strip() for k, v in raw.items()})

    def errors(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not self.subject:
            errors["subject"] = "Say in a few words what the ticket is about"
        elif problem := _too_long(self.subject, 255):
            errors["subject"] = problem
        if problem := _too_long(self.content, 20_000):
            errors["content"] = problem
        if self.priority not in dict(PRIORITIES):
            errors["priority"] = "Choose a priority from the list"
        if self.category not in dict(CATEGORIES):
            errors["category"] = "Choose a category from the list"
        return errors
