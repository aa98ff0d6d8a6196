"""The report cache: operations folded into `report_days` rows (shop, shop-local day, device, cashier, card type,
tier) and brought up to date before every read.

Why a cache: the dashboard and the reports sum a year of operations; a million rows summed per page view is
seconds on a Raspberry Pi's SQLite. Why rebuilt by whole days and not added to on every sale: a till that was
offline sends yesterday's sales today, a clock correction moves an operation, and the write path of money stays
as it is (no second table to keep in step under concurrency). Each refresh asks which operations ARRIVED since
the last one (`received_at`, indexed), and recomputes exactly the days those operations happened on, from the
ledger and the sales table. A test compares the cache with the ledger's own sums.

Days are cut in each shop's time zone (a shop's own, else the chain's). SQL groups by UTC hour, Python maps the
hour to the shop's day: zones with a 30 or 45 minute offset would put that part of an hour on the wrong day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection, Engine

from .. import clock
from ..data.db import (
    cards,
    ledger,
    lock_key,
    operations,
    report_days,
    report_state,
    report_visits,
    sales,
    settings,
    shops,
    write_transaction,
)

STATE_KEY = "days"
# A transaction that started before a refresh may commit after it with an earlier received_at: every refresh also
# looks this far back, so such an operation is folded in by the next one.
LOOK_BACK = timedelta(minutes=2)
CHUNK_DAYS = 7  # days rebuilt per write transaction: a first build over a year never holds the write lock long
MEASURES = ("operations", "rejected", "receipts", "amount", "discount", "paid", "refunds", "money_refund", "accrued",
            "spent", "returned", "expired", "adjusted", "other")
KEYS = ("shop", "day", "device_id", "cashier", "card_type", "tier")
LEDGER_KIND = {"accrual": "accrued", "redemption": "spent", "expiry": "expired", "adjustment": "adjusted",
               "return_refund": "returned", "return_take": "returned", "reversal": "returned"}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zones(conn: Connection) -> dict[str, str]:
    """Each shop's time zone ("" = operations without a shop, in the chain's)."""
    chain = conn.execute(select(settings.c.value).where(settings.c.key == "timezone")).scalar()
    if chain is None:
        from ..settings_schema import DEFAULTS

        chain = DEFAULTS.get("timezone")
    found = {"": chain or "UTC"}
    for code, tz in conn.execute(select(shops.c.code, shops.c.timezone)):
        found[code] = tz or found[""]
    return found


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants a shop-local day starts and ends (a DST day has 23 or 25 hours)."""
    utc = ZoneInfo("UTC")
    return (datetime.combine(day, time(), tz).astimezone(utc),
            datetime.combine(day + timedelta(days=1), time(), tz).astimezone(utc))


def hour_of(conn: Connection, column):
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.substr(column, 1, 13)  # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'


def hour_to_day(hour: str, tz: ZoneInfo) -> date:
    return datetime.fromisoformat(hour + ":00:00+00:00").astimezone(tz).date()


def _shop_is(code: str):
    return operations.c.shop.is_(None) if code == "" else operations.c.shop == code


def _fold(conn: Connection, code: str, tz: ZoneInfo, start: datetime, end: datetime) -> dict[tuple, dict]:
    """Every operation of shop `code` with start <= at < end, summed per (day, device, cashier, card type, tier)."""
    o = operations.c
    hour = hour_of(conn, o.at).label("hour")
    cashier = func.coalesce(o.cashier, literal("")).label("cashier")
    card_type = func.coalesce(cards.c.card_type, literal("")).label("card_type")
    tier = case((o.type == "sale", func.coalesce(o.result["tier"].as_string(), literal(""))),
                else_=literal("")).label("tier")
    keys = (hour, o.device_id, cashier, card_type, tier)
    where = and_(_shop_is(code), o.at >= start, o.at < end)
    applied, undo = o.status == "applied", o.type.in_(("return", "cancel"))
    rows: dict[tuple, dict] = {}

    def row(r) -> dict:
        key = (code, hour_to_day(r.hour, tz), r.device_id, r.cashier[:100], r.card_type, r.tier[:64])
        return rows.setdefault(key, dict.fromkeys(MEASURES, 0))

    counts = (select(*keys,
                     func.sum(case((applied, 1), else_=0)).label("operations"),
                     func.sum(case((applied, 0), else_=1)).label("rejected"),
                     func.count(sales.c.operation_id).label("receipts"),
                     func.coalesce(func.sum(sales.c.amount), 0).label("amount"),
                     func.coalesce(func.sum(sales.c.discount), 0).label("discount"),
                     func.coalesce(func.sum(sales.c.paid), 0).label("paid"),
                     func.sum(case((and_(applied, undo), 1), else_=0)).label("refunds"),
                     func.sum(case((and_(applied, undo), func.coalesce(o.result["money_refund"].as_integer(), 0)),
                                   else_=0)).label("money_refund"))
              .select_from(operations.outerjoin(sales, sales.c.operation_id == o.id)
                           .outerjoin(cards, cards.c.number == o.card_number))
              .where(where).group_by(*keys))
    for r in conn.execute(counts):
        target = row(r)
        for name in ("operations", "rejected", "receipts", "amount", "discount", "paid", "refunds", "money_refund"):
            target[name] += int(getattr(r, name) or 0)
    moves = (select(*keys, ledger.c.kind, func.sum(ledger.c.amount).label("amount"))
             .select_from(operations.join(ledger, ledger.c.operation_id == o.id)
                          .outerjoin(cards, cards.c.number == o.card_number))
             .where(where).group_by(*keys, ledger.c.kind))
    for r in conn.execute(moves):
        target, amount = row(r), int(r.amount or 0)
        measure = LEDGER_KIND.get(r.kind, "other")
        # accruals, payments with bonuses and expiry are kept positive: that is how people read them
        target[measure] += -amount if measure in ("spent", "expired") else amount
    return rows


def _visits_select(customers_in: list[int] | None = None):
    """Each receipt with its customer's previous four receipt times (window functions, both backends)."""
    s = sales.c
    window = {"partition_by": s.customer_id, "order_by": (s.at, s.operation_id)}
    q = select(s.operation_id, s.customer_id, s.at, *(func.lag(s.at, k).over(**window) for k in (1, 2, 3, 4))) \
        .where(s.customer_id.is_not(None))
    return q if customers_in is None else q.where(s.customer_id.in_(customers_in))


VISIT_COLUMNS = ["operation_id", "customer_id", "at", "prev1", "prev2", "prev3", "prev4"]


def _rebuild_visits(conn: Connection, customer_ids: set[int] | None) -> None:
    """report_visits for these customers (None: everyone) from the sales table."""
    if customer_ids is None:
        conn.execute(delete(report_visits))
        conn.execute(insert(report_visits).from_select(VISIT_COLUMNS, _visits_select()))
        return
    ids = sorted(customer_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        conn.execute(delete(report_visits).where(report_visits.c.customer_id.in_(chunk)))
        conn.execute(insert(report_visits).from_select(VISIT_COLUMNS, _visits_select(chunk)))


def _rebuild(conn: Connection, code: str, tz: ZoneInfo, first: date, last: date, visits: bool = True) -> None:
    """Replaces shop `code`'s rows for the days first..last (inclusive) with what the ledger says now."""
    start, end = day_bounds(first, tz)[0], day_bounds(last, tz)[1]
    conn.execute(delete(report_days).where(report_days.c.shop == code, report_days.c.day >= first,
                                           report_days.c.day <= last))
    rows = _fold(conn, code, tz, start, end)
    if rows:
        conn.execute(insert(report_days), [dict(zip(KEYS, key, strict=True), **m) for key, m in rows.items()])
    if visits:
        # a receipt of these days changes the predecessors of its customer's later receipts: all of theirs again
        customer_ids = set(conn.execute(
            select(sales.c.customer_id).select_from(sales.join(operations, operations.c.id == sales.c.operation_id))
            .where(_shop_is(code), sales.c.at >= start, sales.c.at < end, sales.c.customer_id.is_not(None))
            .distinct()).scalars())
        if customer_ids:
            _rebuild_visits(conn, customer_ids)


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of at most CHUNK_DAYS consecutive days."""
    runs: list[list[date]] = []
    for d in sorted(set(days)):
        if runs and d - runs[-1][1] == timedelta(days=1) and (d - runs[-1][0]).days < CHUNK_DAYS:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return [(a, b) for a, b in runs]


@dataclass
class Refreshed:
    days: int  # shop-days rebuilt
    full: bool


def _state(conn: Connection, key: str) -> dict | None:
    row = conn.execute(select(report_state.c.value).where(report_state.c.key == key)).first()
    return row[0] if row else None


def put_state(conn: Connection, key: str, value: dict) -> None:
    if conn.execute(update(report_state).where(report_state.c.key == key).values(value=value, at=clock.now())
                    ).rowcount == 0:
        conn.execute(insert(report_state).values(key=key, value=value, at=clock.now()))


def refresh(engine: Engine) -> Refreshed:
    """Brings report_days up to date with every operation received so far (see the module's note)."""
    now = clock.now()
    with engine.connect() as conn:
        state = _state(conn, STATE_KEY)
        tz_names = zones(conn)
        full = state is None or state.get("zones") != tz_names
        o = operations.c
        hour = hour_of(conn, o.at)
        shop = func.coalesce(o.shop, literal(""))
        if full:
            spans = conn.execute(select(shop, func.min(o.at), func.max(o.at)).group_by(shop)).all()
            dirty = {}
            for code, lo, hi in spans:
                tz = zone(tz_names.get(code, tz_names[""]))
                a, b = clock.aware(lo).astimezone(tz).date(), clock.aware(hi).astimezone(tz).date()
                dirty[code] = {a + timedelta(days=i) for i in range((b - a).days + 1)}
        else:
            since = datetime.fromisoformat(state["through"]) - LOOK_BACK
            dirty = {}
            for code, h in conn.execute(select(shop, hour).where(o.received_at > since).distinct()):
                dirty.setdefault(code, set()).add(hour_to_day(h, zone(tz_names.get(code, tz_names[""]))))
    if not full and not dirty:
        return Refreshed(0, False)
    rebuilt = 0
    if full:
        with write_transaction(engine) as conn:
            lock_key(conn, "report_days")
            conn.execute(delete(report_days))
            _rebuild_visits(conn, None)
    for code, days in sorted(dirty.items()):
        tz = zone(tz_names.get(code, tz_names[""]))
        for first, last in _runs(days):
            with write_transaction(engine) as conn:
                lock_key(conn, "report_days")  # two refreshes at once rebuild a day one after the other
                _rebuild(conn, code, tz, first, last, visits=not full)
            rebuilt += (last - first).days + 1
    with write_transaction(engine) as conn:
        lock_key(conn, "report_days")
        put_state(conn, STATE_KEY, {"through": now.isoformat(), "zones": tz_names})
    return Refreshed(rebuilt, full)


def remembered(engine: Engine, key: str, params: dict, max_age: timedelta, compute):
    """A figure that reads the whole ledger or every customer (what expires next month, the visit segments),
    kept in report_state for `max_age`: recomputed when older, or when asked for other parameters. Returns
    (value, computed at)."""
    with engine.connect() as conn:
        row = conn.execute(select(report_state.c.value, report_state.c.at).where(report_state.c.key == key)).first()
    if row is not None and row.value.get("params") == params and clock.now() - clock.aware(row.at) < max_age:
        return row.value["value"], clock.aware(row.at)
    with engine.connect() as conn:
        value = compute(conn)
    with write_transaction(engine) as conn:
        put_state(conn, key, {"params": params, "value": value})
    return value, clock.now()
