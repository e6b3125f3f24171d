"""The demo panel's own tables: its customers, their support tickets and the tickets' messages.

They live on their own SQLAlchemy registry, as a real panel's models would, so they never
share metadata with the plugin's tables (``settings``, ``hubspot_outbox``, …) in the same
database. ``as_user``/``as_ticket`` copy the few fields the plugin's hooks take; the
panel's own fields (a customer's hosting plan and number of servers, the server a ticket is
about) go in ``extra``, for the admin's property maps to send to HubSpot properties.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from skypanel_hubspot_plugin.payloads import Ticket, TicketMessage, User

#: The panel's own fields, by the names the property maps use (the settings page suggests them).
USER_EXTRA_FIELDS = ("plan", "server_count")
TICKET_EXTRA_FIELDS = ("server",)


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
    plan: str = Field(default="starter", max_length=20)  # the hosting plan: forms.PLANS
    server_count: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)

    def as_user(self) -> User:
        return User(
            id=str(self.id),
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            company=self.company,
            phone=self.phone,
            extra={"plan": self.plan, "server_count": str(self.server_count)},
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
    server: str = Field(default="", max_length=100)  # which of the customer's servers
    created_at: datetime = Field(default_factory=utcnow)

    def as_ticket(self) -> Ticket:
        return Ticket(
            id=str(self.id),
            subject=self.subject,
            content=self.content,
            priority=self.priority,
            category=self.category,
            status=self.status,
            extra={"server": self.server} if self.server else {},
        )


#: Who wrote a ticket message: the ticket's customer, the panel's staff, or a HubSpot agent
#: (a reply written in HubSpot, brought back by the plugin).
CUSTOMER = "customer"
STAFF = "staff"
AGENT = "agent"


class PanelTicketMessage(PanelTable, table=True):
    """One message of a ticket's conversation, after the ticket's own text.

    The customer's and the staff's are written in the panel and sent to HubSpot through
    ``skypanel_on_ticket_message_added``; an agent's reply comes from HubSpot and carries
    the email engagement it is (``hubspot_email_id``), so it is stored once and never sent
    back."""

    __tablename__ = "demo_ticket_messages"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="demo_tickets.id", index=True)
    author_kind: str = Field(max_length=20)  # CUSTOMER, STAFF or AGENT
    author_name: str = Field(default="", max_length=200)
    author_email: str = Field(default="", max_length=254)
    body: str = Field(sa_type=Text)
    sent_at: datetime = Field(default_factory=utcnow)
    hubspot_email_id: str | None = Field(default=None, max_length=40, unique=True)

    def as_message(self) -> TicketMessage:
        assert self.author_kind in (CUSTOMER, STAFF), "an agent's reply is HubSpot's own"
        return TicketMessage(
            id=str(self.id),
            ticket_id=str(self.ticket_id),
            author_kind="customer" if self.author_kind == CUSTOMER else "staff",
            body=self.body,
            sent_at=self.sent_at,
            author_name=self.author_name,
            author_email=self.author_email,
        )


def create_panel_tables(engine: Engine) -> None:
    PanelTable.metadata.create_all(engine)
