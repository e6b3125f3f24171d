"""The audit trail: who changed the integration's settings, rotated its key, replayed,
purged or backfilled, and when.

Revision ID: 0.2.0_audit
Revises: 0.2.0_metric_counters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0.2.0_audit"
down_revision = "0.2.0_metric_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hubspot_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("address", sa.String(100), nullable=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_hubspot_audit_at", "hubspot_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_hubspot_audit_at", table_name="hubspot_audit")
    op.drop_table("hubspot_audit")
