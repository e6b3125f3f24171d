"""The demo panel's own tables: its customers and their support tickets.

They live on their own SQLAlchemy registry, as a real panel's models would, so they never
share metadata with the plugin's tables (``settings``, ``hubspot_outbox``, …) in the same
database. ``as_user``/``as_ticket`` copy the few fields the plugin's hooks take.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from skypanel_hubspot_plugin.payloads import Ticket, User


def utcnow() -> datetime:
    return datetime.now(UTC)


class PanelTable(SQLModel, registry=registry()):
    """Base of the demo panel's tables; their metadata is the panel's, not the plugin's."""


class PanelUser(PanelTable, table=True):
    """A customer account of the demo panel."""

    __tablename__ = "demo_users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    company: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    created_at: datetime = Field(default_factory=utcnow)

    def as_user(self) -> User:
        return User(
            id=str(self.id),
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            company=self.company,
            phone=self.phone,
        )


class PanelTicket(PanelTable, table=True):
    """A support ticket a customer opened in the demo panel."""

    __tablename__ = "demo_tickets"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="demo_users.id", index=True)
    subject: str = Field(max_length=255)
    content: str = Field(default="", sa_type=Text)
    priority: str = Field(default="medium", max_length=20)
    category: str = Field(default="general", max_length=50)
    status: str = Field(default="open", max_length=20)
    created_at: datetime = Field(default_factory=utcnow)

    def as_ticket(self) -> Ticket:
        return Ticket(
            id=str(self.id),
            subject=self.subject,
            content=self.content,
            priority=self.priority,
            category=self.category,
            status=self.status,
        )


def create_panel_tables(engine: Engine) -> None:
    PanelTable.metadata.create_all(engine)
