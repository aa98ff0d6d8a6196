"""The bonus a purchase will earn, estimated on the device for the preview before the cashier confirms.

It follows the server's rules (store_server/rules.py) when the shop's /config carries them (`rules`,
`timezone`); the server's own figure is what the ledger gets. Without rules the estimate is None.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def _fits(rule: dict, local: datetime, card_type: str) -> bool:
    if rule.get("card_type") not in (None, card_type):
        return False
    day = local.date()
    if rule.get("valid_from") and day < date.fromisoformat(str(rule["valid_from"])[:10]):
        return False
    if rule.get("valid_to") and day > date.fromisoformat(str(rule["valid_to"])[:10]):
        return False
    if rule.get("weekdays") and str(local.isoweekday()) not in str(rule["weekdays"]):
        return False
    start, end = rule.get("time_from"), rule.get("time_to")
    if start is not None and end is not None:
        minute = local.hour * 60 + local.minute
        return start <= minute < end if start <= end else (minute >= start or minute < end)
    return True


def _bonus(rule: dict, amount: int) -> int:
    return amount * int(rule["value"]) // 10_000 if rule.get("kind") == "percent" else int(rule["value"])


def estimate_accrual(config: dict, paid: int, *, card_type: str = "standard",
                     now: datetime | None = None) -> int | None:
    rules = config.get("rules")
    if not isinstance(rules, list):
        return None
    try:
        local = (now or datetime.now(UTC)).astimezone(ZoneInfo(config.get("timezone") or "UTC"))
        ordered = sorted((r for r in rules if r.get("active", True)),
                         key=lambda r: (r.get("priority", 10), r.get("id", 0)))
        total, applied = 0, False
        for rule in ordered:
            if not _fits(rule, local, card_type):
                continue
            if not rule.get("combine", True):
                return total if applied else _bonus(rule, paid)
            total += _bonus(rule, paid)
            applied = True
        return total
    except (KeyError, TypeError, ValueError):
        return None  # rules the device cannot read: better no estimate than a wrong one
