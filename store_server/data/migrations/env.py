"""Alembic environment: always handed an open connection by store_server/data/migrate.py (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from store_server.data.db import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table, on PostgreSQL it is plain ALTER.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=False,
)
with context.begin_transaction():
    context.run_migrations()
