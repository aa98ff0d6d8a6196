"""Operation times relative to now, for tests that send operations to a real server.

The server refuses an operation whose time is more than 400 days ago or in the future
(store_server/ledger/device_clock.py), so a hard-coded date in a test would start failing a year after it was
written. These give a recent time instead, and the shop-local day a report will file it under.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def ago(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """The moment that long before now, in UTC, to the whole second (a negative amount is later)."""
    moment = datetime.now(UTC) - timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return moment.replace(microsecond=0)


def iso(moment: datetime) -> str:
    """ISO 8601 as a device sends it ("...Z" for UTC)."""
    return moment.isoformat().replace("+00:00", "Z")


def iso_ago(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> str:
    return iso(ago(days, hours, minutes, seconds))


def local_day(moment: datetime | str, zone: str = "UTC") -> str:
    """The shop-local day (YYYY-MM-DD) a moment falls on, as reports and journals file it."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


def days_ago(days: int, zone: str = "UTC") -> date:
    """The shop-local date `days` days before today."""
    return datetime.now(ZoneInfo(zone)).date() - timedelta(days=days)
