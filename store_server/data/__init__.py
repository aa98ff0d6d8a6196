"""The data room: schema migrations (Alembic), backups and moves between databases."""
