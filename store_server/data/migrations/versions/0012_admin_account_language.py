"""admin account language

Revision ID: 0012_admin_account_language
Revises: 0011_report_days
Created: 2026-11-26 17:57:47.931709
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_admin_account_language'
down_revision = '0011_report_days'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('admin_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lang', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('admin_accounts', schema=None) as batch_op:
        batch_op.drop_column('lang')

