"""Fraud signals around one-time codes, for the owner to read (`store-server fraud-report`).

- A phone that got codes requested from many devices: a customer visits one or two tills; a phone whose
  codes are asked for all over the shop is more likely a cashier spending other people's bonuses through
  "their" number, or a pumped number.
- Codes requested for staff phones (the shop setting "staff_phones"): a cashier verifying an operation
  with their own phone.
- Bonuses moved by a cashier on a card bound to that cashier's own phone (`cashiers add --phone`) or a staff
  phone: the seed-000 fraud of accruing strangers' purchases onto one's own card.
- Phones identified by code (`identify`) at many tills, and the customers' NO replies to transaction notices.
- Per cashier: sales, bonuses earned on cards and spent from cards, to compare cashiers with each other.

- SMS pumping (store_server/messaging/sms/guard.py keeps most of it out): a device that asked codes for many numbers
  that never entered one, and a device with many wrong codes typed.

Phones are masked in the report: it is read on screens and pasted into chats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from loyalty_common.phones import InvalidPhone, mask, normalise

from . import clock, shop
from .cashiers import display, names
from .data.db import cards, cashiers, customers, devices, ledger, operations, otp_challenges, transaction_notices


@dataclass(frozen=True)
class ManyDevices:
    phone: str
    devices: int
    codes: int
    last_at: datetime


@dataclass(frozen=True)
class StaffCode:
    phone: str
    purpose: str
    device: str
    card_number: str | None
    amount: int | None
    at: datetime


@dataclass(frozen=True)
class DeviceSignal:
    device: str
    count: int  # numbers that never entered their code, or wrong codes typed
    codes: int  # codes the device asked for in the period
    device_id: str = ""  # for the back office's drill-down into the journal


@dataclass(frozen=True)
class CashierTotals:
    cashier: str
    sales: int
    accrued: int  # bonuses earned on cards through this cashier's operations
    redeemed: int  # bonuses spent (sales paid with bonuses and redemptions)
    cashier_id: str = ""  # as operations carry it (the journal's filter)


@dataclass(frozen=True)
class OwnPhone:
    """Bonuses moved by a cashier on a card whose phone is that cashier's own or a staff phone."""
    cashier: str
    phone: str
    whose: str  # "cashier" (the cashier's own phone) or "staff"
    card_number: str
    operations: int
    accrued: int
    redeemed: int
    cashier_id: str = ""


@dataclass(frozen=True)
class FlaggedNotice:
    """A customer answered NO to a transaction notice."""
    at: datetime
    phone: str
    operation_id: str
    type: str
    card_number: str | None
    device: str
    cashier: str
    device_id: str = ""


@dataclass(frozen=True)
class Report:
    since: datetime
    many_devices: list[ManyDevices]
    staff_codes: list[StaffCode]
    unverified_numbers: list[DeviceSignal] = ()
    failed_checks: list[DeviceSignal] = ()
    per_cashier: list[CashierTotals] = ()
    own_phone: list[OwnPhone] = ()
    identified_many: list[ManyDevices] = ()  # phones looked up by code at many tills
    no_replies: list[FlaggedNotice] = ()

    @property
    def signals(self) -> bool:
        return bool(self.many_devices or self.staff_codes or self.unverified_numbers or self.failed_checks
                    or self.own_phone or self.identified_many or self.no_replies)


def staff_phones(conn: Connection) -> set[str]:
    country = shop.get(conn, "country") or "UA"
    phones = set()
    for raw in shop.get(conn, "staff_phones") or []:
        try:
            phones.add(normalise(str(raw), country))
        except InvalidPhone:
            continue  # a typo in the list must not hide the rest of the report
    return phones


def _per_device(conn: Connection, since: datetime, measure, minimum: int) -> list[DeviceSignal]:
    ch = otp_challenges.c
    rows = conn.execute(
        select(ch.device_id, devices.c.name, measure.label("n"), func.count().label("codes"))
        .select_from(otp_challenges.outerjoin(devices, devices.c.id == ch.device_id))
        .where(ch.created_at >= since).group_by(ch.device_id, devices.c.name)
        .having(measure >= minimum).order_by(measure.desc()))
    return [DeviceSignal(row.name or row.device_id, int(row.n), int(row.codes), row.device_id) for row in rows]


def report(conn: Connection, *, days: float = 7, min_devices: int = 3, min_unverified: int = 10,
           min_failed: int = 20) -> Report:
    since = clock.now() - timedelta(days=days)
    ch = otp_challenges.c
    many = [
        ManyDevices(row.phone, row.devices, row.codes, clock.aware(row.last_at))
        for row in conn.execute(
            select(ch.phone, func.count(func.distinct(ch.device_id)).label("devices"),
                   func.count().label("codes"), func.max(ch.created_at).label("last_at"))
            .where(ch.created_at >= since).group_by(ch.phone)
            .having(func.count(func.distinct(ch.device_id)) >= min_devices)
            .order_by(func.count(func.distinct(ch.device_id)).desc(), ch.phone)
        )
    ]
    staff = staff_phones(conn)
    staff_codes = [
        StaffCode(row.phone, row.purpose, row.name or row.device_id, row.card_number, row.amount,
                  clock.aware(row.created_at))
        for row in conn.execute(
            select(ch.phone, ch.purpose, ch.device_id, devices.c.name, ch.card_number, ch.amount, ch.created_at)
            .select_from(otp_challenges.outerjoin(devices, devices.c.id == ch.device_id))
            .where(ch.created_at >= since, ch.phone.in_(staff)).order_by(ch.created_at.desc())
        )
    ] if staff else []
    ch = otp_challenges.c
    # A number whose code was never entered, once per number: pumping texts numbers nobody at the kiosk owns.
    unverified = func.count(func.distinct(case((ch.verified_at.is_(None), ch.phone))))
    # Wrong tries: every try of an unverified challenge, all but the last of a verified one.
    wrong = func.sum(case((ch.verified_at.is_(None), ch.attempts), else_=ch.attempts - 1))
    identified = [
        ManyDevices(row.phone, row.devices, row.codes, clock.aware(row.last_at))
        for row in conn.execute(
            select(ch.phone, func.count(func.distinct(ch.device_id)).label("devices"),
                   func.count().label("codes"), func.max(ch.created_at).label("last_at"))
            .where(ch.created_at >= since, ch.purpose == "identify").group_by(ch.phone)
            .having(func.count(func.distinct(ch.device_id)) >= min_devices)
            .order_by(func.count(func.distinct(ch.device_id)).desc(), ch.phone))
    ]
    known = names(conn)
    return Report(since, many, staff_codes, _per_device(conn, since, unverified, min_unverified),
                  _per_device(conn, since, wrong, min_failed), per_cashier=_per_cashier(conn, since, known),
                  own_phone=_own_phone(conn, since, staff, known), identified_many=identified,
                  no_replies=_no_replies(conn, since, known))


def _moves(since: datetime):
    """Per operation and card: bonuses earned and spent by sales and redemptions since `since`."""
    o, lg = operations.c, ledger.c
    earned = func.coalesce(func.sum(case((lg.kind == "accrual", lg.amount), else_=0)), 0)
    spent = func.coalesce(func.sum(case((lg.kind == "redemption", -lg.amount), else_=0)), 0)
    return (select(o.id, o.cashier, o.type, lg.card_number, earned.label("accrued"), spent.label("redeemed"))
            .select_from(operations.join(ledger, lg.operation_id == o.id))
            .where(o.received_at >= since, o.type.in_(("sale", "redeem")))
            .group_by(o.id, o.cashier, o.type, lg.card_number)).subquery()


def _per_cashier(conn: Connection, since: datetime, known: dict[str, str]) -> list[CashierTotals]:
    m = _moves(since)
    rows = conn.execute(select(m.c.cashier, func.sum(case((m.c.type == "sale", 1), else_=0)),
                               func.sum(m.c.accrued), func.sum(m.c.redeemed)).group_by(m.c.cashier)).all()
    totals: dict[str, list[int]] = {}
    ids: dict[str, str] = {}
    for cashier, count, accrued, redeemed in rows:
        name = display(cashier, known) or "-"
        t = totals.setdefault(name, [0, 0, 0])
        ids.setdefault(name, str(cashier or ""))
        t[0], t[1], t[2] = t[0] + int(count or 0), t[1] + int(accrued or 0), t[2] + int(redeemed or 0)
    return sorted((CashierTotals(name, *t, cashier_id=ids[name]) for name, t in totals.items()),
                  key=lambda c: (-c.accrued - c.redeemed, c.cashier))


def _own_phone(conn: Connection, since: datetime, staff: set[str], known: dict[str, str]) -> list[OwnPhone]:
    own = {str(cid): phone for cid, phone in conn.execute(select(cashiers.c.id, cashiers.c.phone)) if phone}
    watched = staff | set(own.values())
    if not watched:
        return []
    m = _moves(since)
    rows = conn.execute(
        select(m.c.cashier, customers.c.phone, m.c.card_number, func.count(), func.sum(m.c.accrued),
               func.sum(m.c.redeemed))
        .select_from(m.join(cards, cards.c.number == m.c.card_number).join(customers))
        .where(customers.c.phone.in_(watched))
        .group_by(m.c.cashier, customers.c.phone, m.c.card_number)).all()
    found = [OwnPhone(display(cashier, known) or "-", phone,
                      "cashier" if own.get(str(cashier or "")) == phone else "staff", card, int(count),
                      int(accrued or 0), int(redeemed or 0), str(cashier or ""))
             for cashier, phone, card, count, accrued, redeemed in rows]
    return sorted(found, key=lambda f: (f.whose != "cashier", f.cashier, f.card_number))


def _no_replies(conn: Connection, since: datetime, known: dict[str, str]) -> list[FlaggedNotice]:
    n = transaction_notices.c
    rows = conn.execute(
        select(n.flagged_at, n.phone, n.operation_id, operations.c.type, n.card_number, devices.c.name,
               operations.c.device_id, operations.c.cashier)
        .select_from(transaction_notices.join(operations, operations.c.id == n.operation_id)
                     .outerjoin(devices, devices.c.id == operations.c.device_id))
        .where(n.flagged_at >= since).order_by(n.flagged_at.desc())).all()
    return [FlaggedNotice(clock.aware(at), phone, op_id, type_, card, name or device_id,
                          display(cashier, known) or "-", device_id)
            for at, phone, op_id, type_, card, name, device_id, cashier in rows]


def render(rep: Report) -> str:
    lines = [f"fraud signals since {rep.since:%Y-%m-%d %H:%M} UTC"]
    lines.append(f"phones that got codes from many devices: {len(rep.many_devices)}")
    lines += [f"  {mask(m.phone)}  {m.devices} devices, {m.codes} codes, last {m.last_at:%Y-%m-%d %H:%M}"
              for m in rep.many_devices]
    lines.append(f"codes requested for staff phones: {len(rep.staff_codes)}")
    lines += [f"  {s.at:%Y-%m-%d %H:%M}  {mask(s.phone)}  {s.purpose}  device {s.device}"
              + (f"  card {s.card_number}" if s.card_number else "")
              + (f"  amount {s.amount}" if s.amount is not None else "")
              for s in rep.staff_codes]
    lines.append(f"devices that asked codes for many numbers never confirmed: {len(rep.unverified_numbers)}")
    lines += [f"  {d.device}  {d.count} numbers without their code entered, {d.codes} codes"
              for d in rep.unverified_numbers]
    lines.append(f"devices with many wrong codes typed: {len(rep.failed_checks)}")
    lines += [f"  {d.device}  {d.count} wrong codes, {d.codes} codes" for d in rep.failed_checks]
    lines.append(f"customers' NO replies to transaction notices: {len(rep.no_replies)}")
    lines += [f"  {f.at:%Y-%m-%d %H:%M}  {mask(f.phone)}  {f.type} {f.operation_id}"
              + (f"  card {f.card_number}" if f.card_number else "") + f"  device {f.device}  cashier {f.cashier}"
              for f in rep.no_replies]
    lines.append(f"bonuses moved on cashiers' own or staff phones: {len(rep.own_phone)}")
    lines += [f"  cashier {o.cashier}  {'own phone' if o.whose == 'cashier' else 'staff phone'} {mask(o.phone)}"
              f"  card {o.card_number}  {o.operations} operations, earned {o.accrued}, spent {o.redeemed}"
              for o in rep.own_phone]
    lines.append(f"phones identified by code at many tills: {len(rep.identified_many)}")
    lines += [f"  {mask(m.phone)}  {m.devices} tills, {m.codes} codes, last {m.last_at:%Y-%m-%d %H:%M}"
              for m in rep.identified_many]
    lines.append("bonuses per cashier (sales, earned on cards, spent from cards):")
    lines += [f"  {c.cashier}  {c.sales} sales, earned {c.accrued}, spent {c.redeemed}" for c in rep.per_cashier]
    return "\n".join(lines)
