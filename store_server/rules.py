"""Accrual rules: which bonus a purchase earns."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .db import rules


def accrual_for(conn: Connection, amount: int) -> int:
    """Bonus (minor units) for a purchase of `amount` minor units: rules by priority, 0 first;
    a rule that does not combine stops the ones after it."""
    total = 0
    for rule in conn.execute(select(rules).where(rules.c.active).order_by(rules.c.priority, rules.c.id)).mappings():
        if rule["kind"] == "percent":
            total += amount * rule["value"] // 10_000
        else:
            total += rule["value"]
        if not rule["combine"]:
            break
    return total
