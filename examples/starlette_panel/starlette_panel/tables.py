"""The panel's own tables: its customers (staff among them) and their support tickets."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Customer(SQLModel, table=True):
    __tablename__ = "starlette_panel_customers"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(default="", max_length=200)
    is_staff: bool = False


class SupportTicket(SQLModel, table=True):
    __tablename__ = "starlette_panel_tickets"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="starlette_panel_customers.id")
    subject: str = Field(max_length=200)
    status: str = Field(default="open", max_length=20)
