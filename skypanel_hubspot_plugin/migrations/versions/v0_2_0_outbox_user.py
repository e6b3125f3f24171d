"""Outbox rows remember the panel user whose ticket they carry, past the erasure of their
payload, so a GDPR delete finds every row of the user's tickets.

Revision ID: 0.2.0_outbox_user
Revises: 0.2.0_receiver_problems
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0.2.0_outbox_user"
down_revision = "0.2.0_receiver_problems"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hubspot_outbox") as batch:
        batch.add_column(sa.Column("user_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hubspot_outbox") as batch:
        batch.drop_column("user_id")
