"""The reports' cache (report_days: operations folded per shop, shop-local day, device, cashier, card type and tier;
report_state: what it has seen); sales by time for the repeat-visit rate, customers by registration and cards by
activation for the dashboard's new customers.

The cache starts empty: the first dashboard or report fills it from the ledger (store_server/reporting/summary.py).

Revision ID: 0011_report_days
Revises: 0010_shared_rate_counts
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_report_days'
down_revision = '0010_shared_rate_counts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_days',
    sa.Column('shop', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('cashier', sa.String(length=100), nullable=False),
    sa.Column('card_type', sa.String(length=32), nullable=False),
    sa.Column('tier', sa.String(length=64), nullable=False),
    sa.Column('operations', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('receipts', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.BigInteger(), nullable=False),
    sa.Column('refunds', sa.Integer(), nullable=False),
    sa.Column('money_refund', sa.BigInteger(), nullable=False),
    sa.Column('accrued', sa.BigInteger(), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.Column('returned', sa.BigInteger(), nullable=False),
    sa.Column('expired', sa.BigInteger(), nullable=False),
    sa.Column('adjusted', sa.BigInteger(), nullable=False),
    sa.Column('other', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('shop', 'day', 'device_id', 'cashier', 'card_type', 'tier')
    )
    with op.batch_alter_table('report_days', schema=None) as batch_op:
        batch_op.create_index('ix_report_days_day', ['day'], unique=False)

    op.create_table('report_state',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.create_index('ix_sales_at_customer', ['at', 'customer_id'], unique=False)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_created', ['created_at'], unique=False)
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index('ix_cards_activated', ['activated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index('ix_cards_activated')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_created')
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_at_customer')

    op.drop_table('report_state')
    with op.batch_alter_table('report_days', schema=None) as batch_op:
        batch_op.drop_index('ix_report_days_day')

    op.drop_table('report_days')
