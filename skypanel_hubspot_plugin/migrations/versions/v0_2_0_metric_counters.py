"""The metric counters every process adds to, for a Prometheus scrape from any of them.

Revision ID: 0.2.0_metric_counters
Revises: 0.2.0_outbox_user
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0.2.0_metric_counters"
down_revision = "0.2.0_outbox_user"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hubspot_metric_counters",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("labels", sa.String(200), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hubspot_metric_counters")
