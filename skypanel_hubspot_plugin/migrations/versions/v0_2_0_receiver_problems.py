"""Why ticket changes made in HubSpot cannot reach the host, for `status` to read.

Revision ID: 0.2.0_receiver_problems
Revises: 0.1.0
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0.2.0_receiver_problems"
down_revision = "0.1.0"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hubspot_receiver_problems",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hubspot_receiver_problems")
