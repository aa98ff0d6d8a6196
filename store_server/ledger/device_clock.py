"""Device clocks: the server measures each device's clock and decides which time an operation counts at.

The time of an operation decides money: rule windows ("20 % before 10:00"), tiers' rolling turnover and
bonus expiry all read it. A device's clock can be wrong (a Pi without its RTC battery boots in 1970 or
wherever its last fake-hwclock save left it) or set wrong on purpose. So:

- Every batch carries the device's send time (`X-Device-Time`, ISO 8601). The server subtracts its own
  time on arrival: that is the device's clock offset, kept per device (`device_clocks`).
- An operation's device time is moved by that offset when the offset is over `TOLERANCE` (two minutes:
  the network and NTP's slack). The operation was made on that same wrong clock, so the corrected time is
  when it really happened, also for operations queued offline for days.
- After correction, a time more than `TOLERANCE` in the future is refused `time_in_future`; one older than
  `MAX_AGE` (400 days: no kiosk queues a year of sales offline) is refused `time_too_old` (a Pi back in
  1970, `"at": 0`). Legitimately old operations of an offline device keep their time and are accepted.
- Every corrected or refused operation is flagged (`clock_flags`) for the owner: `store-server
  clock-report` lists them, and the fraud report's --fail-on-signal counts them.

A device that sends no header (a kiosk from before this) gets no correction, only the two refusals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from .. import clock
from ..data.db import clock_flags, device_clocks, devices, lock_key

TOLERANCE = timedelta(minutes=2)
MAX_AGE = timedelta(days=400)
HEADER = "X-Device-Time"


def offset_from(header: str | None, now: datetime) -> timedelta | None:
    """Device time minus server time, from the batch's header; None without a usable one."""
    if not header:
        return None
    try:
        sent = datetime.fromisoformat(header.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    try:
        return sent - now
    except OverflowError:
        return None


def record_offset(conn: Connection, device_id: str, offset: timedelta, now: datetime) -> None:
    values = dict(offset_seconds=int(offset.total_seconds()), measured_at=now)
    # Two batches of one device at once (two server processes): the second waits, then updates the row the
    # first inserted, instead of failing on its key (db.lock_key; nothing on SQLite, whose write lock is held).
    lock_key(conn, "device-clock", device_id)
    if not conn.execute(update(device_clocks).where(device_clocks.c.device_id == device_id).values(**values)).rowcount:
        conn.execute(insert(device_clocks).values(device_id=device_id, **values))


def decide(at: datetime, offset: timedelta | None, now: datetime) -> tuple[datetime, str | None, str | None]:
    """(the time to use, why it was corrected or None, the refusal code or None)."""
    used, reason = at, None
    if offset is not None and abs(offset) > TOLERANCE:
        try:
            used, reason = at - offset, ("clock_ahead" if offset > timedelta(0) else "clock_behind")
        except OverflowError:
            return at, None, "time_too_old"
    if used > now + TOLERANCE:
        return used, reason, "time_in_future"
    if used < now - MAX_AGE:
        return used, reason, "time_too_old"
    return used, reason, None


REFUSALS = {
    "time_in_future": "the operation's time is in the future even after the device's clock offset; "
                      "set the device's clock",
    "time_too_old": "the operation's time is more than 400 days ago; set the device's clock",
}


def flag(conn: Connection, *, op_id: str, device_id: str, device_at: datetime, used_at: datetime | None,
         offset: timedelta | None, reason: str, now: datetime) -> None:
    if conn.execute(select(clock_flags.c.operation_id).where(clock_flags.c.operation_id == op_id)).first():
        return  # a retry of an operation already flagged
    conn.execute(insert(clock_flags).values(
        operation_id=op_id, device_id=device_id, device_at=device_at, used_at=used_at,
        offset_seconds=int(offset.total_seconds()) if offset is not None else None, reason=reason, flagged_at=now))


def report(conn: Connection, *, days: float = 7) -> list[dict]:
    since = clock.now() - timedelta(days=days)
    rows = conn.execute(
        select(clock_flags.c.device_id, devices.c.name, clock_flags.c.reason, func.count().label("operations"),
               func.max(clock_flags.c.offset_seconds).label("max_offset"),
               func.min(clock_flags.c.offset_seconds).label("min_offset"),
               func.max(clock_flags.c.flagged_at).label("last"))
        .select_from(clock_flags.outerjoin(devices, devices.c.id == clock_flags.c.device_id))
        .where(clock_flags.c.flagged_at >= since)
        .group_by(clock_flags.c.device_id, devices.c.name, clock_flags.c.reason)
        .order_by(func.count().desc()))
    return [dict(r) for r in rows.mappings()]


def render(rows: list[dict], days: float) -> str:
    lines = [f"operations whose device time was corrected or refused, last {days:g} days: "
             f"{sum(r['operations'] for r in rows)}"]
    for r in rows:
        offsets = {r["min_offset"], r["max_offset"]} - {None}
        shown = ", offset " + " .. ".join(f"{o:+d} s" for o in sorted(offsets)) if offsets else ""
        lines.append(f"  {r['name'] or r['device_id']}  {r['reason']}  {r['operations']} operation(s){shown}")
    return "\n".join(lines)
