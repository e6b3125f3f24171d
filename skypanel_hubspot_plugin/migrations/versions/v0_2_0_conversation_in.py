"""Agents' replies and tickets opened in HubSpot, each brought to the panel once.

Revision ID: 0.2.0_conversation_in
Revises: 0.2.0_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0.2.0_conversation_in"
down_revision = "0.2.0_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hubspot_handled_replies",
        sa.Column("email_id", sa.String(40), primary_key=True),
        sa.Column("panel_ticket_id", sa.String(255), nullable=False),
        sa.Column("hubspot_ticket_id", sa.String(40), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_hubspot_handled_replies_panel_ticket_id",
        "hubspot_handled_replies",
        ["panel_ticket_id"],
    )
    op.create_table(
        "hubspot_born_tickets",
        sa.Column("hubspot_id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("panel_id", sa.String(255), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hubspot_born_tickets_user_id", "hubspot_born_tickets", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_hubspot_born_tickets_user_id", "hubspot_born_tickets")
    op.drop_table("hubspot_born_tickets")
    op.drop_index("ix_hubspot_handled_replies_panel_ticket_id", "hubspot_handled_replies")
    op.drop_table("hubspot_handled_replies")
