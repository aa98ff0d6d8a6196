"""device clocks and clock flags

Revision ID: 0005_device_clocks
Revises: 0004_admin_indexes
Created: 2026-11-26 15:07:06.869769
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_device_clocks'
down_revision = '0004_admin_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clock_flags',
    sa.Column('operation_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('device_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offset_seconds', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('operation_id')
    )
    with op.batch_alter_table('clock_flags', schema=None) as batch_op:
        batch_op.create_index('ix_clock_flags_flagged', ['flagged_at'], unique=False)

    op.create_table('device_clocks',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('offset_seconds', sa.Integer(), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_id')
    )


def downgrade() -> None:
    op.drop_table('device_clocks')
    with op.batch_alter_table('clock_flags', schema=None) as batch_op:
        batch_op.drop_index('ix_clock_flags_flagged')

    op.drop_table('clock_flags')
