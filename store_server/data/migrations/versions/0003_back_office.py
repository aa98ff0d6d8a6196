"""The back office (store_server/admin): accounts, sessions, login failures and the audit trail; what devices
report by heartbeat; replaced cards; indexes the journal, search and SMS log pages walk.

Revision ID: 0003_back_office
Revises: 0002_till_money_flow_tables
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_back_office"
down_revision = "0002_till_money_flow_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_accounts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('admin_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('admin_audit', schema=None) as batch_op:
        batch_op.create_index('ix_admin_audit_at', ['at'], unique=False)

    op.create_table('admin_login_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('admin_login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_admin_login_failures_address_at', ['address', 'at'], unique=False)

    op.create_table('device_status',
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('app_version', sa.String(length=32), nullable=True),
    sa.Column('outbox_pending', sa.Integer(), nullable=True),
    sa.Column('outbox_failed', sa.Integer(), nullable=True),
    sa.Column('last_sync_error', sa.String(length=300), nullable=True),
    sa.Column('last_sync_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('admin_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['admin_accounts.id'], ),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('admin_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_admin_sessions_account', ['account_id'], unique=False)

    op.create_table('card_replacements',
    sa.Column('old_number', sa.String(length=32), nullable=False),
    sa.Column('new_number', sa.String(length=32), nullable=False),
    sa.Column('operation_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['new_number'], ['cards.number'], ),
    sa.ForeignKeyConstraint(['old_number'], ['cards.number'], ),
    sa.ForeignKeyConstraint(['operation_id'], ['operations.id'], ),
    sa.PrimaryKeyConstraint('old_number')
    )
    with op.batch_alter_table('card_replacements', schema=None) as batch_op:
        batch_op.create_index('ix_card_replacements_new', ['new_number'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_name', ['name'], unique=False)

    with op.batch_alter_table('operations', schema=None) as batch_op:
        batch_op.create_index('ix_operations_at_id', ['at', 'id'], unique=False)
        batch_op.create_index('ix_operations_device_at', ['device_id', 'at'], unique=False)

    with op.batch_alter_table('sms_log', schema=None) as batch_op:
        batch_op.create_index('ix_sms_log_phone', ['phone'], unique=False)
        batch_op.create_index('ix_sms_log_sent', ['sent_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sms_log', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_log_sent')
        batch_op.drop_index('ix_sms_log_phone')

    with op.batch_alter_table('operations', schema=None) as batch_op:
        batch_op.drop_index('ix_operations_device_at')
        batch_op.drop_index('ix_operations_at_id')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_name')

    with op.batch_alter_table('card_replacements', schema=None) as batch_op:
        batch_op.drop_index('ix_card_replacements_new')

    op.drop_table('card_replacements')
    with op.batch_alter_table('admin_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_sessions_account')

    op.drop_table('admin_sessions')
    op.drop_table('device_status')
    with op.batch_alter_table('admin_login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_login_failures_address_at')

    op.drop_table('admin_login_failures')
    with op.batch_alter_table('admin_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_audit_at')

    op.drop_table('admin_audit')
    op.drop_table('admin_accounts')
