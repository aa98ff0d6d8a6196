"""The operations journal: filtered, newest first, paged by key (time, id) so page 1000 costs what page 1 does."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, literal_column, or_, select
from sqlalchemy.engine import Connection

from .. import clock
from ..data.db import devices, ledger, operations
from ..reporting.operations_csv import safe_cell

PAGE = 50
TYPES = ("sale", "redeem", "return", "cancel", "register", "update_customer", "adjust", "replace", "expire",
         "activation_approved", "activation_rejected")
STATUSES = ("applied", "rejected")


@dataclass
class Filters:
    since: date | None = None  # shop-local dates, both inclusive
    until: date | None = None
    type: str | None = None
    device: str | None = None
    cashier: str | None = None
    status: str | None = None
    card: str | None = None
    shop: str | None = None
    # The shops the signed-in account may see (None: all); set by the page, never from the query string.
    scope: tuple[str, ...] | None = None

    @classmethod
    def from_query(cls, params) -> Filters:
        def day(key: str) -> date | None:
            try:
                return date.fromisoformat(params.get(key) or "")
            except ValueError:
                return None

        def text(key: str) -> str | None:
            value = (params.get(key) or "").strip()
            return value[:100] or None

        f = cls(since=day("since"), until=day("until"), type=text("type"), device=text("device"),
                cashier=text("cashier"), status=text("status"), card=text("card"), shop=text("shop"))
        if f.status not in STATUSES:
            f.status = None
        return f

    def as_query(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in vars(self).items()
                if v and k != "scope"}


def _bounds(f: Filters, timezone: str) -> list:
    zone = ZoneInfo(timezone or "UTC")
    where = []
    if f.since:
        where.append(operations.c.at >= datetime.combine(f.since, time(), zone).astimezone(ZoneInfo("UTC")))
    if f.until:
        end = datetime.combine(f.until + timedelta(days=1), time(), zone).astimezone(ZoneInfo("UTC"))
        where.append(operations.c.at < end)
    # The partial indexes' own conditions, as literals: a planner cannot tell that a bound parameter will be
    # 'rejected' when it plans, so only the literal term lets it use ix_operations_rejected / _type_at_id.
    if f.status == "rejected":
        where.append(operations.c.status == literal_column("'rejected'"))
    if f.type and f.type != "sale":
        where.append(operations.c.type != literal_column("'sale'"))
    for column, value in ((operations.c.type, f.type), (operations.c.device_id, f.device),
                          (operations.c.cashier, f.cashier), (operations.c.status, f.status),
                          (operations.c.card_number, f.card), (operations.c.shop, f.shop)):
        if value:
            where.append(column == value)
    if f.scope is not None:
        # An operator limited to some shops sees what their devices did, not the chain's own operations.
        where.append(operations.c.shop.in_(f.scope))
    return where


def encode_cursor(row: dict) -> str:
    return f"{clock.aware(row['at']).isoformat()}|{row['id']}"


def after(cursor: str | None) -> list:
    if not cursor or "|" not in cursor:
        return []
    at_text, op_id = cursor.split("|", 1)
    try:
        at = clock.aware(datetime.fromisoformat(at_text)).astimezone(ZoneInfo("UTC"))
    except ValueError:
        return []
    return [or_(operations.c.at < at, and_(operations.c.at == at, operations.c.id < op_id))]


def _query(f: Filters, timezone: str):
    return (select(operations.c.id, operations.c.type, operations.c.at, operations.c.received_at,
                   operations.c.device_id, operations.c.cashier, operations.c.card_number, operations.c.status,
                   operations.c.error, operations.c.result, operations.c.shop,
                   devices.c.name.label("device_name"))
            .select_from(operations.outerjoin(devices, devices.c.id == operations.c.device_id))
            .where(*_bounds(f, timezone)).order_by(operations.c.at.desc(), operations.c.id.desc()))


def page(conn: Connection, f: Filters, timezone: str, cursor: str | None = None, size: int = PAGE) -> dict:
    rows = [dict(r) for r in conn.execute(_query(f, timezone).where(*after(cursor)).limit(size + 1)).mappings()]
    more = len(rows) > size
    rows = rows[:size]
    if rows:
        moves: dict[str, int] = {}
        for op_id, amount in conn.execute(select(ledger.c.operation_id, ledger.c.amount).where(
                ledger.c.operation_id.in_([r["id"] for r in rows]))).all():
            moves[op_id] = moves.get(op_id, 0) + int(amount)
        for r in rows:
            r["bonus"] = moves.get(r["id"])
    return {"rows": rows, "next": encode_cursor(rows[-1]) if more else None}


def device_choices(conn: Connection, scope: tuple[str, ...] | None = None) -> list[dict]:
    query = select(devices.c.id, devices.c.name).order_by(devices.c.name)
    if scope is not None:
        query = query.where(devices.c.shop.in_(scope))
    return [dict(r) for r in conn.execute(query).mappings()]


def shop_choices(conn: Connection, scope: tuple[str, ...] | None = None) -> list[dict]:
    """The shops a journal may be filtered by: every shop, or those the account may see."""
    from ..data.db import shops

    query = select(shops.c.code, shops.c.name, shops.c.timezone).order_by(shops.c.code)
    if scope is not None:
        query = query.where(shops.c.code.in_(scope))
    return [dict(r) for r in conn.execute(query).mappings()]


CSV_COLUMNS = ("at", "id", "type", "status", "error", "card_number", "device", "cashier", "bonus", "shop")


def csv_rows(conn: Connection, f: Filters, timezone: str, limit: int = 1_000_000) -> Iterator[str]:
    """The filtered journal as CSV, a page at a time (no million-row list in memory)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    cursor, written = None, 0
    zone = ZoneInfo(timezone or "UTC")
    while written < limit:
        chunk = page(conn, f, timezone, cursor, size=1000)
        for r in chunk["rows"]:
            writer.writerow([safe_cell("" if v is None else v) for v in (
                clock.aware(r["at"]).astimezone(zone).isoformat(timespec="seconds"), r["id"], r["type"],
                r["status"], r["error"], r["card_number"], r["device_name"] or r["device_id"], r["cashier"],
                r["bonus"], r["shop"])])
        written += len(chunk["rows"])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        cursor = chunk["next"]
        if cursor is None:
            break
