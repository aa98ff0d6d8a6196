"""Rules and tiers keep their history; card ranges are recorded (issue 17, back office part 2).

- `rule_history`: every saved version of a rule or tier (created, edited, enabled, disabled, deleted) with who
  saved it and its data, so a past sale can still say which rules it was computed with. The rules and tiers a
  shop already has get their version 1 here, dated now.
- `rules.version` and `rules.deleted_at`: a deleted rule stays (inactive) so its history still reads.
- `card_ranges` and `cards.range_id`: each issued range with its type, numbers, EAN-13 prefix and whether its
  cards carry activation codes; cards issued before this revision have no range.

Revision ID: 0009_rule_history_card_ranges
Revises: 0008_sms_templates_imports
Created: 2026-11-26
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009_rule_history_card_ranges"
down_revision = "0008_sms_templates_imports"
branch_labels = None
depends_on = None

RULE_FIELDS = ("name", "kind", "value", "priority", "combine", "active", "card_type", "weekdays", "time_from",
               "time_to", "valid_from", "valid_to", "shops")


def upgrade() -> None:
    op.create_table(
        "card_ranges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("card_type", sa.String(length=32), nullable=False),
        sa.Column("first", sa.BigInteger(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.Column("ean13_prefix", sa.String(length=12), nullable=True),
        sa.Column("activation_codes", sa.Boolean(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    history = op.create_table(
        "rule_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item", sa.String(length=8), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item", "item_id", "version", name="uq_rule_history_version"),
    )
    # Plain ALTER TABLE ... ADD COLUMN on both backends: no copy of the cards table.
    op.add_column("cards", sa.Column("range_id", sa.Integer(), nullable=True))
    op.create_index("ix_cards_range_state", "cards", ["range_id", "state"], unique=False)
    op.add_column("rules", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("rules", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))

    conn = op.get_bind()
    now = datetime.now(UTC)
    rules = sa.table("rules", sa.column("id"), *(sa.column(f, sa.JSON) if f == "shops" else sa.column(f)
                                              for f in RULE_FIELDS))
    tiers = sa.table("tiers", sa.column("id"), sa.column("name"), sa.column("min_turnover"), sa.column("rate"),
                     sa.column("shops", sa.JSON))
    rows = []
    for r in conn.execute(sa.select(rules)).mappings():
        data = {f: (r[f].isoformat() if hasattr(r[f], "isoformat") else r[f]) for f in RULE_FIELDS}
        rows.append({"item": "rule", "item_id": r["id"], "version": 1, "change": "created", "at": now,
                     "by": None, "data": data})
    for t in conn.execute(sa.select(tiers)).mappings():
        rows.append({"item": "tier", "item_id": t["id"], "version": 1, "change": "created", "at": now, "by": None,
                     "data": {k: t[k] for k in ("name", "min_turnover", "rate", "shops")}})
    if rows:
        op.bulk_insert(history, rows)


def downgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("version")
    op.drop_index("ix_cards_range_state", table_name="cards")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_column("range_id")
    op.drop_table("rule_history")
    op.drop_table("card_ranges")
