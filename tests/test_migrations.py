"""Upgrades keep the data: a 0.1.0 database becomes the current schema and delivers what it
had queued; the migrations make exactly the tables the models describe; the plugin's
version table never touches the host's Alembic."""

from __future__ import annotations

import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, inspect, select
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from skypanel_hubspot_plugin import migrations
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.settings.table import PluginTable
from skypanel_hubspot_plugin.testing import FakeHubSpot
from tests import schema_0_1_0
from tests.conftest import start_plugin


def outbox(engine: Engine) -> dict[str, OutboxRow]:
    with Session(engine) as session:
        rows = session.exec(sqlmodel_select(OutboxRow).order_by(col(OutboxRow.id)))
        return {row.entity: row for row in rows}


def version_of(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return migrations.current_revision(conn)


def differences(engine: Engine) -> list[object]:
    """What the database's tables lack or have beyond the models' (none: they agree)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        found = compare_metadata(context, PluginTable.metadata)
    return [d for d in found if not _is_other_table(d)]


def _is_other_table(diff: object) -> bool:
    # The version table is Alembic's, not a model; a host's tables are not ours.
    return (
        isinstance(diff, tuple)
        and diff[0] == "remove_table"
        and diff[1].name not in PluginTable.metadata.tables
    )


def test_a_0_1_0_database_upgrades_in_place_and_delivers_what_it_had_queued(  # type: ignore[no-untyped-def]
    pm, engine: Engine, fake: FakeHubSpot
) -> None:
    schema_0_1_0.create_0_1_0_database(engine)
    assert version_of(engine) is None  # 0.1.0 recorded no version

    rt = start_plugin(
        pm, engine, schema_0_1_0.SECRET_KEY, fake.base_url, run_worker=False
    )  # start-up runs the migrations

    assert version_of(engine) == migrations.head_revision()
    assert differences(engine) == []
    assert rt.settings().enabled and rt.settings().token is not None  # its token still reads
    worker = Worker(rt)
    deadline = time.monotonic() + 30
    while any(outbox(engine)[e].status != DELIVERED for e in schema_0_1_0.QUEUED):
        assert time.monotonic() < deadline, {e: r.status for e, r in outbox(engine).items()}
        worker.run_once()
    contact = fake.contact_by_email("ada@example.com")
    assert contact is not None and contact["properties"]["firstname"] == "Ada"
    (ticket,) = fake.tickets()
    assert ticket["properties"]["subject"] == "Server down"
    parked = outbox(engine)[schema_0_1_0.PARKED]
    assert parked.status == DEAD and parked.last_error == schema_0_1_0.PARKED_REASON
    assert len(fake.contacts()) == 1  # the parked one stays parked


def test_a_fresh_database_gets_exactly_the_tables_the_models_describe(engine: Engine) -> None:
    assert migrations.upgrade(engine) == migrations.head_revision()
    assert differences(engine) == []


def test_a_model_change_without_a_migration_is_caught(engine: Engine) -> None:
    """The check above is what fails CI when a model changes and no migration comes with it."""
    migrations.upgrade(engine)
    changed = MetaData()
    for table in PluginTable.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["hubspot_outbox"].append_column(Column("added_later", String(10)))
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), changed)
    assert (
        "add_column",
        None,
        "hubspot_outbox",
        changed.tables["hubspot_outbox"].c.added_later,
    ) in [d for d in found if isinstance(d, tuple)]


def test_starting_again_on_a_current_database_changes_nothing(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(PluginTable.metadata.tables["settings"]),
            {"key": "panel_theme", "value": "dark", "description": None},
        )
    migrations.upgrade(engine)
    with engine.connect() as conn:
        settings = PluginTable.metadata.tables["settings"]
        assert (
            conn.execute(select(settings.c.value).where(settings.c.key == "panel_theme")).scalar()
            == "dark"
        )


def test_the_hosts_own_alembic_version_table_is_left_alone(engine: Engine) -> None:
    host = MetaData()
    host_version = Table(
        "alembic_version", host, Column("version_num", String(32), primary_key=True)
    )
    with engine.begin() as conn:
        host.create_all(conn)
        conn.execute(insert(host_version), {"version_num": "hosts_own_head"})
    migrations.upgrade(engine)
    with engine.connect() as conn:
        assert list(conn.execute(select(host_version.c.version_num)).scalars()) == [
            "hosts_own_head"
        ]
    assert migrations.VERSION_TABLE in inspect(engine).get_table_names()
    assert version_of(engine) == migrations.head_revision()


@pytest.mark.parametrize("present", [["settings"], ["settings", "hubspot_outbox"]])
def test_a_database_with_some_of_the_0_1_0_tables_gets_the_rest(
    engine: Engine, present: list[str]
) -> None:
    """Tables a host made itself (its own ``settings``) or an interrupted install left."""
    with engine.begin() as conn:
        schema_0_1_0.metadata.create_all(
            conn, tables=[schema_0_1_0.metadata.tables[n] for n in present]
        )
    migrations.upgrade(engine)
    assert differences(engine) == []
