"""The demo panel's own forms, sign-up and new ticket: what they accept and what they refuse.

This is the panel's validation, done before anything is stored or any hook fires; the
plugin validates again for HubSpot's sake, but a panel must not rely on a plugin for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PRIORITIES = (("low", "Low"), ("medium", "Medium"), ("high", "High"))
PLANS = (("starter", "Starter"), ("pro", "Pro"), ("business", "Business"))
MAX_SERVERS = 1000
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
LABELS = {
    "priority": dict(PRIORITIES),
    "category": dict(CATEGORIES),
    "status": dict(STATUSES),
    "plan": dict(PLANS),
}


def _too_long(value: str, limit: int) -> str | None:
    return f"Use at most {limit} characters" if len(value) > limit else None


@dataclass(frozen=True)
class SignUp:
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""
    plan: str = "starter"
    server_count: str = "1"

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
        if self.plan not in dict(PLANS):
            errors["plan"] = "Choose a hosting plan from the list"
        if self.servers() is None:
            errors["server_count"] = f"Enter a whole number from 0 to {MAX_SERVERS}"
        return errors

    def servers(self) -> int | None:
        """The number of servers, or None when it is not a whole number in range."""
        text = self.server_count
        if not (text.isascii() and text.isdigit() and len(text) <= 4):
            return None
        return int(text) if int(text) <= MAX_SERVERS else None


@dataclass(frozen=True)
class NewTicket:
    subject: str = ""
    content: str = ""
    priority: str = "medium"
    category: str = "general"
    server: str = ""

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
        if problem := _too_long(self.server, 100):
            errors["server"] = problem
        return errors


#: The longest message a ticket's conversation takes (HubSpot's email text holds more).
MESSAGE_MAX = 20_000


def message_error(body: str) -> str | None:
    """What is wrong with a ticket message's text (already stripped), or None."""
    if not body:
        return "Write a message first"
    return _too_long(body, MESSAGE_MAX)
