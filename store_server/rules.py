"""Accrual rules: which bonus a purchase earns.

Rules are tried by priority (0 first, then by id). A rule applies when the card type, the validity dates,
the weekday and the time-of-day window (all in the shop's local time) fit the purchase. Applying rules
add up while they combine; the first applying rule that does not combine is used alone when nothing
applied before it, and is skipped otherwise; either way nothing after it is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from .db import rules
from .errors import DomainError

KINDS = ("percent", "fixed")


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    kind: str
    value: int
    priority: int
    combine: bool
    card_type: str | None = None
    weekdays: str | None = None
    time_from: int | None = None
    time_to: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    shops: tuple[str, ...] | None = None  # None: the whole chain

    def fits(self, local: datetime, card_type: str, shop: str | None = None) -> bool:
        if self.card_type is not None and self.card_type != card_type:
            return False
        if self.shops is not None and shop not in self.shops:
            return False
        day = local.date()
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_to is not None and day > self.valid_to:
            return False
        if self.weekdays and str(local.isoweekday()) not in self.weekdays:
            return False
        if self.time_from is not None and self.time_to is not None:
            minute = local.hour * 60 + local.minute
            if self.time_from <= self.time_to:
                return self.time_from <= minute < self.time_to
            return minute >= self.time_from or minute < self.time_to
        return True

    def bonus(self, amount: int) -> int:
        return amount * self.value // 10_000 if self.kind == "percent" else self.value


def load(conn: Connection) -> list[Rule]:
    fields = Rule.__dataclass_fields__
    rows = conn.execute(select(rules).where(rules.c.active).order_by(rules.c.priority, rules.c.id)).mappings()
    return [Rule(**{k: v for k, v in row.items() if k in fields and k != "shops"},
                 shops=tuple(row["shops"]) if row["shops"] is not None else None) for row in rows]


def accrual(loaded: list[Rule], amount: int, *, at: datetime, timezone: str, card_type: str = "standard",
            shop: str | None = None) -> int:
    """Bonus (minor units) for `amount` minor units paid at `at` (read in `timezone`, the shop's) with a card
    of `card_type` in `shop`: a rule limited to some shops applies only in those."""
    local = at.astimezone(ZoneInfo(timezone))
    total, applied = 0, False
    for rule in loaded:
        if not rule.fits(local, card_type, shop):
            continue
        if not rule.combine:
            return total if applied else rule.bonus(amount)
        total += rule.bonus(amount)
        applied = True
    return total


def parse_time(text: str) -> int:
    """'9:00' -> 540: minutes after midnight; '24:00' is allowed as the end of the day."""
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError as e:
        raise DomainError("bad_time", f"time {text!r} is not HH:MM") from e
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 1440:
        raise DomainError("bad_time", f"time {text!r} is not HH:MM")
    return hours * 60 + minutes


def create(conn: Connection, *, name: str, kind: str, value: int, priority: int = 10, combine: bool = True,
           card_type: str | None = None, weekdays: str | None = None, time_from: int | None = None,
           time_to: int | None = None, valid_from: date | None = None, valid_to: date | None = None,
           shops: list[str] | None = None) -> int:
    if kind not in KINDS:
        raise DomainError("bad_rule", f"kind must be one of {', '.join(KINDS)}")
    if value < 0 or (kind == "percent" and value > 10_000):
        raise DomainError("bad_rule", "a percent rule takes 0..10000 basis points, a fixed one a positive amount")
    if weekdays is not None and (not weekdays or any(d not in "1234567" for d in weekdays)):
        raise DomainError("bad_rule", "weekdays are ISO digits 1 (Monday) to 7 (Sunday), e.g. 12345")
    if (time_from is None) != (time_to is None):
        raise DomainError("bad_rule", "a time window needs both its start and its end")
    if valid_from and valid_to and valid_to < valid_from:
        raise DomainError("bad_rule", "the rule ends before it starts")
    return conn.execute(insert(rules).values(
        name=name, kind=kind, value=value, priority=priority, combine=combine, active=True, card_type=card_type,
        weekdays=weekdays, time_from=time_from, time_to=time_to, valid_from=valid_from, valid_to=valid_to,
        shops=check_shops(conn, shops),
    )).inserted_primary_key[0]


def check_shops(conn: Connection, codes: list[str] | None) -> list[str] | None:
    """The shops a rule or a tier is limited to, each one known; None or empty: the whole chain."""
    from . import shops

    if not codes:
        return None
    known = shops.codes(conn)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise DomainError("unknown_shop", f"no shop {', '.join(unknown)}; shops: {', '.join(known)}")
    return sorted(set(codes))
