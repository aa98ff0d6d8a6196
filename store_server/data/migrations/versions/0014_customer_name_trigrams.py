"""customer name search by trigrams on PostgreSQL

Revision ID: 0014_customer_name_trigrams
Revises: 0013_report_visits
Created: 2026-11-26 18:15:00

The back office finds customers by any part of their name (ILIKE '%...%'). A B-tree cannot serve that, so on
PostgreSQL ix_customers_name becomes a GIN index of pg_trgm's trigrams (pg_trgm ships with PostgreSQL and is a
trusted extension since 13: the database's owner may create it). SQLite keeps its plain index.
"""

from __future__ import annotations

from alembic import op

revision = '0014_customer_name_trigrams'
down_revision = '0013_report_visits'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.drop_index("ix_customers_name", table_name="customers")
    op.create_index("ix_customers_name", "customers", ["name"], postgresql_using="gin",
                    postgresql_ops={"name": "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_customers_name", table_name="customers")
    op.create_index("ix_customers_name", "customers", ["name"])
