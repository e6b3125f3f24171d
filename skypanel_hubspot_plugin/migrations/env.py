"""Alembic's environment for the plugin's migrations, run by :func:`upgrade` only.

The connection comes from the caller, already inside the transaction that holds the
schema lock, so every migration and the version row commit (or roll back) together.
The version table has the plugin's own name: a host running its own Alembic keeps its
``alembic_version`` to itself.
"""

from __future__ import annotations

from alembic import context

from skypanel_hubspot_plugin.migrations.runner import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    # SQLite changes a column by copying its table; op.batch_alter_table does that and is
    # plain ALTER TABLE on PostgreSQL.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
