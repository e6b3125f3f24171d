"""Release 0.1.0's tables and rows, frozen: what an installed 0.1.0 panel has on its database.

0.1.0 made its tables with ``create_all`` from its models; these are copies of those
models as SQLAlchemy Core tables (never imported from today's code, which moves on), and
rows exactly as 0.1.0 wrote them: a contact and a ticket queued, a contact parked with the
reason 0.1.0 gave, and the settings of an enabled integration with its Fernet-encrypted token.
Upgrade tests build a database from this and start the current plugin on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    column,
    func,
    insert,
    select,
)

metadata = MetaData()

Table(
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

#: The Fernet key the stored token below was encrypted with (key id ``301ca948``).
SECRET_KEY = "wA_53SfZC9yyWxIOI9R8_hnD0rpcAxvut1BtUtyMZHQ="
#: The queued rows' entities, and the parked one's.
QUEUED = ("user:7", "ticket:3")
PARKED = "user:8"
PARKED_REASON = "email: must be an email address like name@example.com"

_SETTINGS = {
    "hubspot_enabled": "true",
    "hubspot_portal_id": "12345678",
    "hubspot_api_key": "fernet:301ca948:gAAAAABrFOK5E9dzt4bzrLCLKGnCNr8aQPxc26sKBZ5DjxC5IpSvExZxUoHyChN8jdsimajYoIpuajxTh9iI6FIeGFT6jDRXZxUz6aJvKcTzCM5my_q-kFekjH2ANS9c0HoDKGh20EN0",
    "hubspot_region": "na1",
    "hubspot_chat_enabled": "false",
    "hubspot_chat_identify_visitors": "false",
    "hubspot_ticket_enabled": "true",
    "hubspot_ticket_form_id": "",
    "hubspot_contact_form_id": "",
    "hubspot_ticket_pipeline": "0",
    "hubspot_ticket_stage": "1",
    "hubspot_ticket_status_stages": '{"open": "1", "waiting": "2", "in_progress": "3", "closed": "4"}',
    "hubspot_ticket_sync": "webhooks",
    "hubspot_ticket_poll_interval": "60",
    "hubspot_ticket_default_category": "GENERAL_INQUIRY",
    "hubspot_user_deleted_action": "nothing",
    "hubspot_rate_limit": "100",
    "hubspot_retention_days": "30",
    "hubspot_api_version": "2026-09",
    "hubspot_app_secret": "",
    "hubspot_webhook_url": "",
    "hubspot_contact_property_map": '{"email": "email", "first_name": "firstname", "last_name": "lastname", "company": "company", "phone": "phone"}',
    "hubspot_ticket_property_map": "{}",
    "hubspot_settings_revision": "07b8e9c3c79742f780165373668c4657",
}

_AT = datetime(2026, 12, 6, 4, 21, 13, tzinfo=UTC)
_OUTBOX = [
    {
        "id": 1,
        "kind": "contact.upsert",
        "entity": "user:7",
        "payload": '{"user_id": "7", "properties": {"email": "ada@example.com", "firstname": "Ada"}}',
        "status": "queued",
        "last_error": None,
    },
    {
        "id": 2,
        "kind": "contact.upsert",
        "entity": "user:8",
        "payload": '{"rejected": {"id": "8", "email": "not-an-email", "first_name": "", "last_name": "", "company": "", "phone": "", "extra": {}, "email_verified": false}}',
        "status": "dead",
        "last_error": PARKED_REASON,
    },
    {
        "id": 3,
        "kind": "ticket.create",
        "entity": "ticket:3",
        "payload": '{"ticket_id": "3", "user_id": "7", "contact": {"email": "ada@example.com", "firstname": "Ada"}, "properties": {"subject": "Server down", "content": "Since noon", "hs_ticket_priority": "HIGH", "hs_ticket_category": "GENERAL_INQUIRY", "hs_pipeline": "0", "hs_pipeline_stage": "1"}}',
        "status": "queued",
        "last_error": None,
    },
]


def create_0_1_0_database(engine: Engine) -> None:
    """Makes the database an installed 0.1.0 panel has: its tables, settings and outbox rows."""
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(
            insert(metadata.tables["settings"]),
            [{"key": k, "value": v, "description": None} for k, v in _SETTINGS.items()],
        )
        conn.execute(
            insert(metadata.tables["hubspot_outbox"]),
            [
                {
                    **row,
                    "attempts": 0,
                    "next_attempt_at": _AT,
                    "created_at": _AT,
                    "claimed_by": None,
                    "claimed_until": None,
                    "hubspot_id": None,
                    "delivered_at": None,
                    "backfill_id": None,
                }
                for row in _OUTBOX
            ],
        )
        if engine.dialect.name == "postgresql":  # rows inserted with their ids: move on
            conn.execute(
                select(func.setval(func.pg_get_serial_sequence("hubspot_outbox", "id"), 3))
            )
