"""Tiers: a customer's level follows the money they paid over a rolling period, up and down.

Each tier adds its own rate (basis points of the money paid) on top of what the rules give.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from .db import sales, tiers
from .errors import DomainError


@dataclass(frozen=True)
class Tier:
    name: str
    min_turnover: int
    rate: int


def load(conn: Connection) -> list[Tier]:
    rows = conn.execute(select(tiers).order_by(tiers.c.min_turnover.desc())).mappings()
    return [Tier(r["name"], r["min_turnover"], r["rate"]) for r in rows]


def create(conn: Connection, *, name: str, min_turnover: int, rate: int) -> None:
    if min_turnover < 0 or not 0 <= rate <= 10_000:
        raise DomainError("bad_tier", "turnover must be >= 0 and the rate 0..10000 basis points")
    if conn.execute(select(tiers.c.id).where(tiers.c.name == name)).first():
        raise DomainError("tier_exists", f"tier {name!r} exists already")
    conn.execute(insert(tiers).values(name=name, min_turnover=min_turnover, rate=rate))


def turnover(conn: Connection, *, customer_id: int | None, card_number: str, at: datetime, days: int) -> int:
    """Money paid (less money refunded) over the `days` before `at`, on all of the customer's cards."""
    who = sales.c.customer_id == customer_id if customer_id is not None else sales.c.card_number == card_number
    total = conn.execute(
        select(func.coalesce(func.sum(sales.c.paid - sales.c.money_refunded), 0))
        .where(who, sales.c.at > at - timedelta(days=days), sales.c.at <= at, sales.c.cancelled_by.is_(None))
    ).scalar_one()
    return int(total)


def tier_for(loaded: list[Tier], amount: int) -> Tier | None:
    return next((t for t in loaded if amount >= t.min_turnover), None)
