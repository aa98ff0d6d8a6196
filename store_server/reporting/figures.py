"""The figures the dashboard and the reports show, read from the report cache (summary.py) and, for what the cache
cannot hold (distinct customers, balances per card, SMS), from small indexed queries.

Money is in minor units of the shop's currency and bonuses in minor units of bonus, as in the ledger; the
pages format them. A period is two shop-local dates, both inclusive.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from .. import clock
from ..cashiers import display, names
from ..data.db import cards, customers, devices, ledger, operations, report_days, report_visits, sales, sms_log
from . import summary

GROUPS = ("day", "week", "month", "device", "cashier", "card_type", "tier", "shop")
# What a receipt-level report shows per group, in this order.
COLUMNS = ("receipts", "revenue", "amount", "discount", "accrued", "spent", "returned", "expired", "refunds",
           "rejected")
MONEY = {"revenue", "amount", "discount"}  # in the shop's currency; the other figures are counts or bonuses
BONUS = {"accrued", "spent", "returned", "expired", "liability", "expiring"}


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]


def today(conn: Connection, shop: str | None = None) -> date:
    tz = summary.zones(conn)
    return clock.now().astimezone(summary.zone(tz.get(shop or "", tz[""]))).date()


def _days_filter(period: Period, shop: str | None):
    where = [report_days.c.day >= period.first, report_days.c.day <= period.last]
    if shop:
        where.append(report_days.c.shop == shop)
    return where


def _sum(name: str):
    return func.coalesce(func.sum(getattr(report_days.c, name)), 0)


def _measures():
    return [_sum(m).label(m) for m in summary.MEASURES]


def _row(r) -> dict:
    d = {m: int(getattr(r, m) or 0) for m in summary.MEASURES}
    d["revenue"] = d["paid"] - d["money_refund"]  # money taken from programme members, less what went back
    return d


def totals(conn: Connection, period: Period, shop: str | None = None) -> dict:
    return _row(conn.execute(select(*_measures()).where(*_days_filter(period, shop))).one())


def by_day(conn: Connection, period: Period, shop: str | None = None) -> dict[date, dict]:
    found = {r.day: _row(r) for r in conn.execute(
        select(report_days.c.day, *_measures()).where(*_days_filter(period, shop)).group_by(report_days.c.day))}
    empty = dict.fromkeys((*summary.MEASURES, "revenue"), 0)
    return {d: found.get(d, dict(empty)) for d in period.dates()}


def _week(d: date) -> date:
    return d - timedelta(days=d.weekday())  # weeks start on Monday (ISO), as in the shops' countries


def grouped(conn: Connection, period: Period, by: str, shop: str | None = None, limit: int | None = None
            ) -> list[dict]:
    """Rows {key, label, <measures>} for one grouping, in the order a reader expects (time, or biggest first)."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    if by in ("day", "week", "month"):
        merged: dict[date, dict] = {}
        for d, m in by_day(conn, period, shop).items():
            key = d if by == "day" else _week(d) if by == "week" else d.replace(day=1)
            target = merged.setdefault(key, dict.fromkeys(m, 0))
            for k, v in m.items():
                target[k] += v
        return [{"key": k.isoformat(), "label": k, **m} for k, m in sorted(merged.items())]
    column = {"device": report_days.c.device_id, "cashier": report_days.c.cashier,
              "card_type": report_days.c.card_type, "tier": report_days.c.tier, "shop": report_days.c.shop}[by]
    rows = [{"key": r[0], **_row(r)} for r in conn.execute(
        select(column, *_measures()).where(*_days_filter(period, shop)).group_by(column))]
    if by == "device":
        known = dict(conn.execute(select(devices.c.id, devices.c.name)).all())
        for r in rows:
            r["label"] = known.get(r["key"], r["key"])
    elif by == "cashier":
        known = names(conn)
        for r in rows:
            r["label"] = display(r["key"], known)
    else:
        for r in rows:
            r["label"] = r["key"]
    rows = [r for r in rows if r["operations"] or r["rejected"]]
    rows.sort(key=lambda r: (-r["revenue"], -r["receipts"], str(r["label"])))
    return rows[:limit] if limit else rows


def liability(conn: Connection) -> int:
    """Bonuses the chain owes its customers: every ledger movement ever, from the cache (refreshed first)."""
    net = (_sum("accrued") - _sum("spent") + _sum("returned") - _sum("expired") + _sum("adjusted") + _sum("other"))
    return int(conn.execute(select(net)).scalar_one())


def _next_month(d: date) -> tuple[date, date]:
    first = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def expiring_next_month(conn: Connection, on: date, expiry_days: int | None) -> int | None:
    """Bonuses the nightly expiry will write off next month unless customers spend them first.

    The expiry writes off, per card, credits older than `bonus_expiry_days` that later debits did not use up
    (ledger.expiring); by the end of next month its cut-off is (first day after it - days), at its start
    (first day - days). What lies between is next month's. One pass over the ledger, grouped per card.
    """
    if not expiry_days:
        return None
    start, end = _next_month(on)
    utc = summary.zone("UTC")
    c1 = summary.day_bounds(start - timedelta(days=int(expiry_days)), utc)[0]
    c2 = summary.day_bounds(end - timedelta(days=int(expiry_days)), utc)[0]
    lg = ledger.c
    rows = conn.execute(select(
        func.sum(case((and_(lg.amount > 0, lg.at < c1), lg.amount), else_=0)),
        func.sum(case((and_(lg.amount > 0, lg.at < c2), lg.amount), else_=0)),
        func.sum(case((lg.amount < 0, -lg.amount), else_=0)),
        func.sum(lg.amount)).group_by(lg.card_number))
    total = 0
    for before, by_end, debits, balance in rows:
        used, held = int(debits or 0), int(balance or 0)
        total += max(0, min(int(by_end or 0) - used, held)) - max(0, min(int(before or 0) - used, held))
    return total


def _utc_span(conn: Connection, period: Period, shop: str | None) -> tuple[datetime, datetime]:
    tz = summary.zones(conn)
    z = summary.zone(tz.get(shop or "", tz[""]))
    return summary.day_bounds(period.first, z)[0], summary.day_bounds(period.last, z)[1]


def new_customers(conn: Connection, period: Period) -> dict[date, tuple[int, int]]:
    """Per day of the period: (customers registered, cards activated). The chain's: customers are no shop's."""
    start, end = _utc_span(conn, period, None)
    tz = summary.zones(conn)
    zone = summary.zone(tz[""])
    days = {d: [0, 0] for d in period.dates()}
    for i, column in enumerate((customers.c.created_at, cards.c.activated_at)):
        hour = summary.hour_of(conn, column)
        for h, n in conn.execute(select(hour, func.count()).where(column >= start, column < end).group_by(hour)):
            day = summary.hour_to_day(h, zone)
            if day in days:
                days[day][i] += int(n)
    return {d: (v[0], v[1]) for d, v in days.items()}


def visits(conn: Connection, period: Period, shop: str | None = None) -> Counter:
    """How many customers bought 1, 2, 3 and 4 or more times (key 4) in the period: every receipt booked."""
    start, end = _utc_span(conn, period, shop)
    if not shop:
        # The chain: from report_visits, one range scan. A receipt is its customer's k-th in the period when
        # its (k-1)th predecessor is in the period and its k-th is not.
        v = report_visits.c
        prev = (None, v.prev1, v.prev2, v.prev3, v.prev4)

        def at_least(k: int):
            inside = [] if k == 1 else [prev[k - 1] >= start]
            return func.coalesce(func.sum(case((and_(*inside, or_(prev[k].is_(None), prev[k] < start)), 1),
                                               else_=0)), 0)

        ge = conn.execute(select(*(at_least(k) for k in (1, 2, 3, 4))).where(v.at >= start, v.at < end)).one()
        ge = [int(x) for x in ge]
        found = Counter({1: ge[0] - ge[1], 2: ge[1] - ge[2], 3: ge[2] - ge[3], 4: ge[3]})
        return Counter({k: n for k, n in found.items() if n})
    per_customer = (select(sales.c.customer_id, func.count().label("n"))
                    .where(sales.c.at >= start, sales.c.at < end, sales.c.customer_id.is_not(None)))
    if shop:
        per_customer = per_customer.join(operations, operations.c.id == sales.c.operation_id).where(
            operations.c.shop == shop)
    sub = per_customer.group_by(sales.c.customer_id).subquery()
    return Counter({int(n): int(c) for n, c in conn.execute(select(sub.c.n, func.count()).group_by(sub.c.n))})


def repeat_rate(counts: Counter) -> float | None:
    buyers = sum(counts.values())
    return None if not buyers else sum(c for n, c in counts.items() if n >= 2) / buyers


# Visit segments (RFM without the M for the segment, as small shops use it): how recently and how often a customer
# came in the last year. Money is shown per segment beside.
SEGMENTS = ("champions", "loyal", "promising", "first_visit", "at_risk", "cooling", "lapsed", "no_visit")
RECENCY = ((7, "0-7"), (30, "8-30"), (90, "31-90"), (180, "91-180"), (365, "181-365"))
FREQUENCY = ((1, "1"), (2, "2"), (4, "3-4"), (9, "5-9"), (None, "10+"))


def segment_of(recency_days: int, visits_n: int) -> str:
    if recency_days <= 30:
        return ("champions" if visits_n >= 10 else "loyal" if visits_n >= 4 else "promising" if visits_n >= 2
                else "first_visit")
    if recency_days <= 90:
        return "at_risk" if visits_n >= 4 else "cooling"
    return "lapsed"


@dataclass
class Segments:
    on: date
    segments: dict = field(default_factory=dict)  # name -> {"customers", "paid"}
    recency: dict = field(default_factory=dict)  # label -> customers
    frequency: dict = field(default_factory=dict)  # label -> customers


def segments(conn: Connection, on: date, shop: str | None = None) -> Segments:
    """Every customer by recency and frequency of visits in the year up to `on` (cached: reporting/cache)."""
    year = Period(on - timedelta(days=364), on)
    start, end = _utc_span(conn, year, shop)
    q = (select(sales.c.customer_id, func.max(sales.c.at), func.count(), func.sum(sales.c.paid))
         .where(sales.c.at >= start, sales.c.at < end, sales.c.customer_id.is_not(None),
                sales.c.cancelled_by.is_(None)))
    if shop:
        q = q.join(operations, operations.c.id == sales.c.operation_id).where(operations.c.shop == shop)
    out = Segments(on, {s: {"customers": 0, "paid": 0} for s in SEGMENTS},
                   {label: 0 for _, label in RECENCY}, {label: 0 for _, label in FREQUENCY})
    seen = 0
    for _cid, last, n, paid in conn.execute(q.group_by(sales.c.customer_id)):
        seen += 1
        recency = max(0, (end - clock.aware(last)).days)
        seg = out.segments[segment_of(recency, int(n))]
        seg["customers"] += 1
        seg["paid"] += int(paid or 0)
        out.recency[next(label for limit, label in RECENCY if recency <= limit or limit == 365)] += 1
        out.frequency[next(label for limit, label in FREQUENCY if limit is None or n <= limit)] += 1
    everyone = conn.execute(select(func.count()).select_from(customers).where(
        customers.c.created_at < end, customers.c.phone.is_not(None))).scalar_one()
    out.segments["no_visit"]["customers"] = max(0, int(everyone) - seen)
    return out


SMS_OUTCOMES = ("delivered", "failed", "waiting")


def sms(conn: Connection, period: Period, shop: str | None = None) -> list[dict]:
    """SMS per gateway and purpose: sent, delivered, failed, still waiting, and the parts billed; with `shop`, the
    messages for that shop's customers (sms_log.shop; those logged before revision 0018 count for the chain only)."""
    start, end = _utc_span(conn, period, shop)
    s = sms_log.c
    where = [s.sent_at >= start, s.sent_at < end, *((s.shop == shop,) if shop else ())]
    outcome = case((s.status == "delivered", "delivered"),
                   (s.status.in_(("failed", "undelivered", "expired")), "failed"), else_="waiting")
    gateway_of = func.coalesce(s.gateway, "")  # one object in SELECT and GROUP BY: PostgreSQL compares them
    rows: dict[tuple, dict] = {}
    for gateway, purpose, out, n, parts, unknown in conn.execute(
            select(gateway_of, s.purpose, outcome, func.count(),
                   func.coalesce(func.sum(s.segments), 0), func.sum(case((s.segments.is_(None), 1), else_=0)))
            .where(*where).group_by(gateway_of, s.purpose, outcome)):
        row = rows.setdefault((gateway, purpose), {"gateway": gateway, "purpose": purpose, "sent": 0,
                                                   "delivered": 0, "failed": 0, "waiting": 0, "segments": 0,
                                                   "unknown_segments": 0})
        row["sent"] += int(n)
        row[out] += int(n)
        row["segments"] += int(parts)
        row["unknown_segments"] += int(unknown or 0)
    return sorted(rows.values(), key=lambda r: (-r["segments"], -r["sent"], r["gateway"], r["purpose"]))
