"""Alembic's script directory: env.py and the revisions under versions/ (store_server/data/migrate.py runs them)."""
