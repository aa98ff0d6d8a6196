"""Fraud signals around one-time codes, for the owner to read (`store-server fraud-report`).

- A phone that got codes requested from many devices: a customer visits one or two tills; a phone whose
  codes are asked for all over the shop is more likely a cashier spending other people's bonuses through
  "their" number, or a pumped number.
- Codes requested for staff phones (the shop setting "staff_phones"): a cashier verifying an operation
  with their own phone.

- SMS pumping (store_server/sms/guard.py keeps most of it out): a device that asked codes for many numbers
  that never entered one, and a device with many wrong codes typed.

Phones are masked in the report: it is read on screens and pasted into chats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from . import clock, shop
from .db import devices, otp_challenges
from .phones import InvalidPhone, mask, normalise


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


@dataclass(frozen=True)
class Report:
    since: datetime
    many_devices: list[ManyDevices]
    staff_codes: list[StaffCode]
    unverified_numbers: list[DeviceSignal] = ()
    failed_checks: list[DeviceSignal] = ()

    @property
    def signals(self) -> bool:
        return bool(self.many_devices or self.staff_codes or self.unverified_numbers or self.failed_checks)


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
    return [DeviceSignal(row.name or row.device_id, int(row.n), int(row.codes)) for row in rows]


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
    return Report(since, many, staff_codes, _per_device(conn, since, unverified, min_unverified),
                  _per_device(conn, since, wrong, min_failed))


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
    return "\n".join(lines)
