"""Sales by card: a card look-up asks whether an issued card was ever sold on, and the till lists a card's
sales to return; both scanned the whole sales table (benchmarks/server_lookup.py).

Revision ID: 0015_sales_by_card
Revises: 0014_customer_name_trigrams
Created: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0015_sales_by_card"
down_revision = "0014_customer_name_trigrams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sales_card", "sales", ["card_number"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sales_card", table_name="sales")
