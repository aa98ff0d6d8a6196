"""Accrual rules: which bonus a purchase earns.

Rules are tried by priority (0 first, then by id). A rule applies when the card type, the validity dates,
the weekday and the time-of-day window (all in the shop's local time) fit the purchase. Applying rules
add up while they combine; the first applying rule that does not combine is used alone when nothing
applied before it, and is skipped otherwise; either way nothing after it is looked at.

Rules are edited, enabled, disabled and deleted in place, each change one transaction that updates the rule's
one row and adds its version to `rule_history`. A sale reads all rules with one SELECT inside its own
transaction, so it is computed wholly with the rules before a change or wholly with those after it. A deleted
rule stays (inactive, `deleted_at` set) so its history, and the sales it earned, still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from .. import clock
from ..data.db import rule_history, rules
from ..errors import DomainError, NotFound

KINDS = ("percent", "fixed")
# What a rule is, as the forms, the CLI and rule_history know it.
FIELDS = ("name", "kind", "value", "priority", "combine", "card_type", "weekdays", "time_from", "time_to",
          "valid_from", "valid_to", "shops")


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


def _rule(row) -> Rule:
    fields = Rule.__dataclass_fields__
    return Rule(**{k: v for k, v in row.items() if k in fields and k != "shops"},
                shops=tuple(row["shops"]) if row["shops"] is not None else None)


def load(conn: Connection) -> list[Rule]:
    rows = conn.execute(select(rules).where(rules.c.active).order_by(rules.c.priority, rules.c.id)).mappings()
    return [_rule(row) for row in rows]


def applied(loaded: list[Rule], *, at: datetime, timezone: str, card_type: str = "standard",
            shop: str | None = None) -> list[Rule]:
    """The rules that earn on a purchase at `at` (read in `timezone`, the shop's) with a card of `card_type` in
    `shop` (a rule limited to some shops applies only in those), in the order they were tried."""
    local = at.astimezone(ZoneInfo(timezone))
    used: list[Rule] = []
    for rule in loaded:
        if not rule.fits(local, card_type, shop):
            continue
        if not rule.combine:
            return used or [rule]
        used.append(rule)
    return used


def accrual(loaded: list[Rule], amount: int, *, at: datetime, timezone: str, card_type: str = "standard",
            shop: str | None = None) -> int:
    """Bonus (minor units) for `amount` minor units paid at `at` with a card of `card_type` in `shop`."""
    return sum(rule.bonus(amount) for rule in applied(loaded, at=at, timezone=timezone, card_type=card_type,
                                                      shop=shop))


def parse_time(text: str) -> int:
    """'9:00' -> 540: minutes after midnight; '24:00' is allowed as the end of the day."""
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError as e:
        raise DomainError("bad_time", f"time {text!r} is not HH:MM") from e
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 1440:
        raise DomainError("bad_time", f"time {text!r} is not HH:MM")
    return hours * 60 + minutes


def check(fields: dict) -> dict:
    """A rule's fields as they will be stored, or DomainError("bad_rule") saying what is wrong."""
    kind, value = fields.get("kind"), fields.get("value")
    name = (fields.get("name") or "").strip()
    if not name or len(name) > 100:
        raise DomainError("bad_rule_name", "a rule's name has 1 to 100 characters")
    if kind not in KINDS:
        raise DomainError("bad_rule", f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(value, int) or value < 0 or (kind == "percent" and value > 10_000):
        raise DomainError("bad_rule", "a percent rule takes 0..10000 basis points, a fixed one a positive amount")
    weekdays = fields.get("weekdays")
    if weekdays is not None and (not weekdays or any(d not in "1234567" for d in weekdays)):
        raise DomainError("bad_rule", "weekdays are ISO digits 1 (Monday) to 7 (Sunday), e.g. 12345")
    if weekdays is not None:
        weekdays = "".join(sorted(set(weekdays)))
    if (fields.get("time_from") is None) != (fields.get("time_to") is None):
        raise DomainError("bad_rule_window", "a time window needs both its start and its end")
    if fields.get("time_from") is not None and fields["time_from"] == fields["time_to"]:
        raise DomainError("bad_rule_window", "a time window's start and end differ")
    valid_from, valid_to = fields.get("valid_from"), fields.get("valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise DomainError("bad_rule_dates", "the rule ends before it starts")
    return {"name": name, "kind": kind, "value": value, "priority": int(fields.get("priority", 10)),
            "combine": bool(fields.get("combine", True)), "card_type": fields.get("card_type") or None,
            "weekdays": weekdays, "time_from": fields.get("time_from"), "time_to": fields.get("time_to"),
            "valid_from": valid_from, "valid_to": valid_to, "shops": fields.get("shops") or None}


def _snapshot(row) -> dict:
    return {f: (row[f].isoformat() if isinstance(row[f], date) else row[f]) for f in (*FIELDS, "active")}


def record(conn: Connection, item: str, item_id: int, version: int, change: str, data: dict,
           by: str | None) -> None:
    """One version of a rule or tier in rule_history (tiers.py records its own through this too)."""
    conn.execute(insert(rule_history).values(item=item, item_id=item_id, version=version, change=change,
                                             at=clock.now(), by=by, data=data))


def next_id(conn: Connection, table, item: str) -> int:
    """A rule's or tier's new id, never one a history already has: SQLite hands out a removed row's id again,
    and a history must stay one rule's."""
    return 1 + max(conn.execute(select(func.max(table.c.id))).scalar() or 0,
                   conn.execute(select(func.max(rule_history.c.item_id))
                                .where(rule_history.c.item == item)).scalar() or 0)


def create(conn: Connection, *, by: str | None = None, **fields) -> int:
    values = check(fields)
    values["shops"] = check_shops(conn, values["shops"])
    rule_id = next_id(conn, rules, "rule")
    conn.execute(insert(rules).values(id=rule_id, **values, active=True, version=1))
    record(conn, "rule", rule_id, 1, "created", _snapshot({**values, "active": True}), by)
    return rule_id


def get(conn: Connection, rule_id: int, *, lock: bool = False) -> dict:
    query = select(rules).where(rules.c.id == rule_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise NotFound("rule_not_found", f"no rule {rule_id}")
    return dict(row)


def _change(conn: Connection, rule_id: int, change: str, by: str | None, **values) -> dict:
    """Update the rule's one row and record its new version, in the caller's (write) transaction."""
    row = get(conn, rule_id, lock=True)
    if row["deleted_at"] is not None:
        raise DomainError("rule_deleted", "this rule was deleted; its history stays, it cannot change")
    new = {**row, **values, "version": row["version"] + 1}
    conn.execute(update(rules).where(rules.c.id == rule_id).values(**values, version=new["version"]))
    record(conn, "rule", rule_id, new["version"], change, _snapshot(new), by)
    return new


def edit(conn: Connection, rule_id: int, *, by: str | None = None, **fields) -> dict:
    row = get(conn, rule_id)
    values = check({**{f: row[f] for f in FIELDS}, **fields})
    values["shops"] = check_shops(conn, values["shops"])
    return _change(conn, rule_id, "edited", by, **values)


def set_active(conn: Connection, rule_id: int, active: bool, *, by: str | None = None) -> dict:
    return _change(conn, rule_id, "enabled" if active else "disabled", by, active=active)


def delete(conn: Connection, rule_id: int, *, by: str | None = None) -> dict:
    return _change(conn, rule_id, "deleted", by, active=False, deleted_at=clock.now())


def listing(conn: Connection, *, deleted: bool = False) -> list[dict]:
    """Every rule (enabled or not) in the order they are tried; with `deleted`, the deleted ones instead."""
    where = rules.c.deleted_at.is_not(None) if deleted else rules.c.deleted_at.is_(None)
    return [dict(r) for r in conn.execute(select(rules).where(where).order_by(rules.c.priority, rules.c.id))
            .mappings()]


def history(conn: Connection, item_id: int, item: str = "rule") -> list[dict]:
    return [dict(r) for r in conn.execute(
        select(rule_history).where(rule_history.c.item == item, rule_history.c.item_id == item_id)
        .order_by(rule_history.c.version.desc())).mappings()]


def as_of(conn: Connection, when: datetime) -> list[Rule]:
    """The rules that were enabled at `when` (server time), as they were then: what a sale booked at that
    moment was computed with."""
    latest: dict[int, dict] = {}
    for row in conn.execute(select(rule_history).where(rule_history.c.item == "rule", rule_history.c.at <= when)
                            .order_by(rule_history.c.item_id, rule_history.c.version)).mappings():
        latest[row["item_id"]] = row["data"]
    found = []
    for rule_id, data in latest.items():
        if data.get("active"):
            values = {f: data.get(f) for f in FIELDS}
            for f in ("valid_from", "valid_to"):
                values[f] = date.fromisoformat(values[f]) if values[f] else None
            values["shops"] = tuple(values["shops"]) if values["shops"] is not None else None
            found.append(Rule(id=rule_id, **values))
    return sorted(found, key=lambda r: (r.priority, r.id))


# --- Overlaps: rules that can meet on one purchase, where priority and "combine" decide what it earns -------

def _days(rule: Rule) -> set[str]:
    return set(rule.weekdays or "1234567")


def _minutes(rule: Rule) -> list[tuple[int, int]]:
    if rule.time_from is None:
        return [(0, 1440)]
    if rule.time_from < rule.time_to:
        return [(rule.time_from, rule.time_to)]
    return [(rule.time_from, 1440), (0, rule.time_to)]


def can_meet(a: Rule, b: Rule) -> bool:
    """Whether one purchase can fit both rules (card type, shops, dates, weekdays and hours all intersect)."""
    if a.card_type and b.card_type and a.card_type != b.card_type:
        return False
    if a.shops is not None and b.shops is not None and not set(a.shops) & set(b.shops):
        return False
    start = max(a.valid_from or date.min, b.valid_from or date.min)
    end = min(a.valid_to or date.max, b.valid_to or date.max)
    if start > end or not _days(a) & _days(b):
        return False
    return any(x0 < y1 and y0 < x1 for x0, x1 in _minutes(a) for y0, y1 in _minutes(b))


def overlaps(loaded: list[Rule]) -> list[tuple[Rule, Rule, str]]:
    """Pairs of enabled rules (in the order tried) that can meet where priority and "combine" decide:
    "alone_first" (the first stands alone: the second never adds), "alone_second" (the second would stand
    alone but is skipped because the first applied), "same_priority" (either way, and their ids decide)."""
    found = []
    for i, a in enumerate(loaded):
        for b in loaded[i + 1:]:
            if (a.combine and b.combine) or not can_meet(a, b):
                continue
            reason = ("same_priority" if a.priority == b.priority else
                      "alone_first" if not a.combine else "alone_second")
            found.append((a, b, reason))
    return found


def check_shops(conn: Connection, codes: list[str] | None) -> list[str] | None:
    """The shops a rule or a tier is limited to, each one known; None or empty: the whole chain."""
    from .. import shops

    if not codes:
        return None
    known = shops.codes(conn)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise DomainError("unknown_shop", f"no shop {', '.join(unknown)}; shops: {', '.join(known)}")
    return sorted(set(codes))
