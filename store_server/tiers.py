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
    shops: tuple[str, ...] | None = None  # None: the whole chain


def load(conn: Connection) -> list[Tier]:
    rows = conn.execute(select(tiers).order_by(tiers.c.min_turnover.desc())).mappings()
    return [Tier(r["name"], r["min_turnover"], r["rate"], tuple(r["shops"]) if r["shops"] is not None else None)
            for r in rows]


def create(conn: Connection, *, name: str, min_turnover: int, rate: int, shops: list[str] | None = None) -> None:
    from .rules import check_shops

    if min_turnover < 0 or not 0 <= rate <= 10_000:
        raise DomainError("bad_tier", "turnover must be >= 0 and the rate 0..10000 basis points")
    if conn.execute(select(tiers.c.id).where(tiers.c.name == name)).first():
        raise DomainError("tier_exists", f"tier {name!r} exists already")
    conn.execute(insert(tiers).values(name=name, min_turnover=min_turnover, rate=rate,
                                      shops=check_shops(conn, shops)))


def turnover(conn: Connection, *, customer_id: int | None, card_number: str, at: datetime, days: int) -> int:
    """Money paid (less money refunded) over the `days` before `at`, on all of the customer's cards."""
    who = sales.c.customer_id == customer_id if customer_id is not None else sales.c.card_number == card_number
    total = conn.execute(
        select(func.coalesce(func.sum(sales.c.paid - sales.c.money_refunded), 0))
        .where(who, sales.c.at > at - timedelta(days=days), sales.c.at <= at, sales.c.cancelled_by.is_(None))
    ).scalar_one()
    return int(total)


def tier_for(loaded: list[Tier], amount: int, *, shop: str | None = None) -> Tier | None:
    """The highest tier the turnover (the chain's: a customer's money counts in every shop) reaches among
    the tiers that apply in `shop`."""
    return next((t for t in loaded if amount >= t.min_turnover and (t.shops is None or shop in t.shops)), None)
