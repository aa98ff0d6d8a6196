"""report_visits: each receipt with its customer's four receipts before it, for the dashboard's repeat-visit rate
(store_server/reporting/summary.py). The report cache is marked stale so that the next page view builds both.

Revision ID: 0013_report_visits
Revises: 0012_admin_account_language
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_report_visits'
down_revision = '0012_admin_account_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_visits',
    sa.Column('operation_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev1', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prev2', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prev3', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prev4', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('operation_id')
    )
    with op.batch_alter_table('report_visits', schema=None) as batch_op:
        batch_op.create_index('ix_report_visits_at', ['at', 'prev1', 'prev2', 'prev3', 'prev4'], unique=False)
        batch_op.create_index('ix_report_visits_customer', ['customer_id'], unique=False)
    op.execute("DELETE FROM report_state")  # the next refresh rebuilds everything, report_visits included



def downgrade() -> None:
    with op.batch_alter_table('report_visits', schema=None) as batch_op:
        batch_op.drop_index('ix_report_visits_customer')
        batch_op.drop_index('ix_report_visits_at')

    op.drop_table('report_visits')
