"""The panel's own tables: its users and their support tickets."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class PanelUser(SQLModel, table=True):
    __tablename__ = "panel_users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(default="", max_length=200)


class PanelTicket(SQLModel, table=True):
    __tablename__ = "panel_tickets"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="panel_users.id")
    subject: str = Field(max_length=200)
    body: str = ""
    status: str = Field(default="open", max_length=20)
