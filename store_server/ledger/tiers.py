"""Tiers: a customer's level follows the money they paid over a rolling period, up and down.

Each tier adds its own rate (basis points of the money paid) on top of what the rules give.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from ..data.db import sales, tiers
from ..errors import DomainError, NotFound
from . import rules


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


def _check(conn: Connection, name: str, min_turnover: int, rate: int, tier_id: int | None = None,
           shops: list[str] | None = None) -> dict:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise DomainError("bad_tier_name", "a tier's name has 1 to 64 characters")
    if min_turnover < 0 or not 0 <= rate <= 10_000:
        raise DomainError("bad_tier", "turnover must be >= 0 and the rate 0..10000 basis points")
    same = conn.execute(select(tiers.c.id).where(tiers.c.name == name)).scalar()
    if same is not None and same != tier_id:
        raise DomainError("tier_exists", f"tier {name!r} exists already")
    return {"name": name, "min_turnover": min_turnover, "rate": rate, "shops": rules.check_shops(conn, shops)}


def create(conn: Connection, *, name: str, min_turnover: int, rate: int, shops: list[str] | None = None,
           by: str | None = None) -> int:
    values = _check(conn, name, min_turnover, rate, shops=shops)
    tier_id = rules.next_id(conn, tiers, "tier")
    conn.execute(insert(tiers).values(id=tier_id, **values))
    rules.record(conn, "tier", tier_id, 1, "created", values, by)
    return tier_id


def listing(conn: Connection) -> list[dict]:
    """Tiers from the lowest turnover up, with their ids (for the back office's forms)."""
    return [dict(r) for r in conn.execute(select(tiers).order_by(tiers.c.min_turnover, tiers.c.id)).mappings()]


def _get(conn: Connection, tier_id: int) -> dict:
    row = conn.execute(select(tiers).where(tiers.c.id == tier_id).with_for_update()).mappings().first()
    if row is None:
        raise NotFound("tier_not_found", f"no tier {tier_id}")
    return dict(row)


def _next_version(conn: Connection, tier_id: int) -> int:
    return 1 + len(rules.history(conn, tier_id, "tier"))


def edit(conn: Connection, tier_id: int, *, name: str, min_turnover: int, rate: int, by: str | None = None,
         **more) -> None:
    """One UPDATE of the tier's row and its new version in rule_history, in the caller's transaction (the
    shops it is limited to stay unless `shops` is given)."""
    row = _get(conn, tier_id)
    values = _check(conn, name, min_turnover, rate, tier_id, shops=more.get("shops", row["shops"]))
    conn.execute(update(tiers).where(tiers.c.id == tier_id).values(**values))
    rules.record(conn, "tier", tier_id, _next_version(conn, tier_id), "edited", values, by)


def delete(conn: Connection, tier_id: int, *, by: str | None = None) -> None:
    """The tier stops counting at once; rule_history keeps what it was (its name is free to reuse)."""
    row = _get(conn, tier_id)
    conn.execute(sql_delete(tiers).where(tiers.c.id == tier_id))
    rules.record(conn, "tier", tier_id, _next_version(conn, tier_id), "deleted",
                 {k: row[k] for k in ("name", "min_turnover", "rate", "shops")}, by)


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
