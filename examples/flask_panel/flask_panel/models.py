"""The panel's own tables: its customers (staff among them) and their support tickets."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Customer(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "flask_panel_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    is_staff: Mapped[bool] = mapped_column(default=False)
    credit: Mapped[int] = mapped_column(default=0)


class SupportTicket(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "flask_panel_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("flask_panel_customers.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
