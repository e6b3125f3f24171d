"""Release 0.1.0's tables: the baseline every later version starts from.

0.1.0 created its tables with ``create_all`` and recorded no version. This revision
creates each table and index only where it is missing, so it is the first version of a new
database and, run on a 0.1.0 database, changes nothing but the recorded version. The
``settings`` table may be the host's own (the seed's key/value table): it is used when it
has ``key``, ``value`` and ``description``, and never dropped.

Frozen: these are 0.1.0's tables as they were, not today's models. Change the schema in a
new revision, never here.

Revision ID: 0.1.0
Revises:
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    column,
    inspect,
)

from skypanel_hubspot_plugin.migrations.errors import SettingsTableMismatch

revision = "0.1.0"
down_revision = None
branch_labels = None
depends_on = None

SETTINGS_COLUMNS = frozenset({"key", "value", "description"})

metadata = MetaData()

settings = Table(
    "settings",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", Text),
    Column("description", Text),
)
Table(
    "hubspot_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("entity", String(300), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("hubspot_id", String(40)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("backfill_id", Integer),
    Index("ix_hubspot_outbox_queue", "status", "id"),
    Index(
        "ix_hubspot_outbox_backfill_id",
        "backfill_id",
        sqlite_where=column("backfill_id").is_not(None),
        postgresql_where=column("backfill_id").is_not(None),
    ),
)
Table(
    "hubspot_object_links",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("panel_id", String(255), primary_key=True),
    Column("hubspot_id", String(40), nullable=False, index=True),
)
Table(
    "hubspot_delivery_locks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("at", Float, nullable=False),
)
Table(
    "hubspot_rate_slots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False, index=True),
)
Table(
    "hubspot_backfills",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cursor", String(255)),
    Column("queued", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("queued_all_at", DateTime(timezone=True)),
)
Table(
    "hubspot_webhook_events",
    metadata,
    Column("event_id", String(40), primary_key=True),
    Column("object_id", String(40), nullable=False),
    Column("subscription_type", String(100), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
Table(
    "hubspot_ticket_aliases",
    metadata,
    Column("hubspot_id", String(40), primary_key=True),
    Column("panel_id", String(255), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Table(
    "hubspot_poll_cursor",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("modified_ms", BigInteger, nullable=False),
    Column("object_id", BigInteger, nullable=False),
    Column("last_poll_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False),
    Column("lease_owner", String(100)),
)
Table(
    "hubspot_polled_tickets",
    metadata,
    Column("hubspot_id", String(40), primary_key=True),
    Column("modified_ms", BigInteger, nullable=False),
    Column("properties", Text, nullable=False),
)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = inspect(bind)
    if inspector.has_table(settings.name):
        present = {c["name"] for c in inspector.get_columns(settings.name)}
        if missing := SETTINGS_COLUMNS - present:
            raise SettingsTableMismatch(
                f"The existing 'settings' table lacks column(s) {sorted(missing)}; "
                "the plugin needs key, value and description."
            )
    for table in metadata.sorted_tables:
        table.create(bind, checkfirst=True)
        for index in table.indexes:  # a table made before an index was added lacks it
            index.create(bind, checkfirst=True)


def downgrade() -> None:
    # ``settings`` stays: it may be the host's, and it holds the host's other keys too.
    bind = op.get_bind()
    for table in reversed(metadata.sorted_tables):
        if table is not settings:
            table.drop(bind, checkfirst=True)
