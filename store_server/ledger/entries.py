"""The ledger: every change of a card's bonus balance is one signed row; the balance is their sum."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, insert, select
from sqlalchemy.engine import Connection

from ..data.db import ledger

# Built once: a statement object carries its own compiled-cache key, which makes the hot paths (card
# look-ups, batch ingest) several times cheaper than building the same SELECT on every call.
_BALANCE = select(func.coalesce(func.sum(ledger.c.amount), 0)).where(ledger.c.card_number == bindparam("card"))
POST = insert(ledger)
_HISTORY = (select(ledger.c.kind, ledger.c.amount, ledger.c.at, ledger.c.operation_id)
            .where(ledger.c.card_number == bindparam("card")).order_by(ledger.c.id.desc())
            .limit(bindparam("limit")))
# The balance rides along with the latest rows: one query for what a card look-up shows.
RECENT_WITH_BALANCE = (
    select(ledger.c.kind, ledger.c.amount, ledger.c.at,
           select(func.sum(ledger.c.amount)).where(ledger.c.card_number == bindparam("card"))
           .scalar_subquery().label("balance"))
    .where(ledger.c.card_number == bindparam("card")).order_by(ledger.c.id.desc()).limit(bindparam("limit")))


def balance(conn: Connection, card_number: str) -> int:
    return int(conn.execute(_BALANCE, {"card": card_number}).scalar_one())


def post(conn: Connection, *, card_number: str, operation_id: str, kind: str, amount: int,
         at: datetime) -> None:
    if amount == 0:
        return
    conn.execute(POST, {"card_number": card_number, "operation_id": operation_id, "kind": kind,
                         "amount": amount, "at": at})


def history(conn: Connection, card_number: str, limit: int = 10) -> list[dict]:
    return [dict(r) for r in conn.execute(_HISTORY, {"card": card_number, "limit": limit}).mappings()]


def recent_with_balance(conn: Connection, card_number: str, limit: int = 5) -> tuple[int, list[dict]]:
    rows = conn.execute(RECENT_WITH_BALANCE, {"card": card_number, "limit": limit}).mappings().all()
    return (int(rows[0]["balance"]) if rows else 0), [dict(r) for r in rows]


def expiring(conn: Connection, card_number: str, cutoff: datetime) -> int:
    """Bonuses earned up to `cutoff` that are still unspent, spending the oldest first.

    Every debit (redemption, take-back, earlier expiry) is counted against the oldest credits, so what
    remains of the credits up to the cutoff is what has outlived its validity.
    """
    old_credits, debits = conn.execute(
        select(
            func.coalesce(func.sum(case((and_(ledger.c.amount > 0, ledger.c.at <= cutoff), ledger.c.amount),
                                        else_=0)), 0),
            func.coalesce(func.sum(case((ledger.c.amount < 0, -ledger.c.amount), else_=0)), 0),
        ).where(ledger.c.card_number == card_number)
    ).one()
    return max(0, min(int(old_credits) - int(debits), balance(conn, card_number)))


def cards_with_balance(conn: Connection) -> list[str]:
    return list(conn.execute(
        select(ledger.c.card_number).group_by(ledger.c.card_number).having(func.sum(ledger.c.amount) > 0)
    ).scalars())
