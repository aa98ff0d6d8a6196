"""Numbers as the customer reads them: money in the shop's currency for the screen's language (Babel), phones
grouped in the national format."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from loyalty_common.money import currency_for, format_money

from .. import i18n

# The shop's currency, country and time zone, from the server's /config (the app sets them at start and after
# enrolment). The time zone is the device's shop's: a chain's till shows sales in its own shop's time.
_shop = {"currency": "", "country": "UA", "timezone": ""}


def use_shop(config: dict, country: str | None = None) -> None:
    country = (config.get("country") or country or _shop["country"] or "UA").upper()
    _shop["country"] = country
    _shop["currency"] = (config.get("currency") or currency_for(country)).upper()
    _shop["timezone"] = (config.get("shop") or {}).get("timezone") or _shop["timezone"]


def local(at: datetime) -> datetime:
    """A time in the shop's time zone (the device's own zone until /config named one)."""
    try:
        return at.astimezone(ZoneInfo(_shop["timezone"])) if _shop["timezone"] else at.astimezone()
    except (ZoneInfoNotFoundError, ValueError):
        return at.astimezone()


def shop_today() -> date:
    """Today in the shop (a birthday picked at 00:30 in Almaty is not in the future for a server in UTC)."""
    return local(datetime.now(UTC)).date()


def currency() -> str:
    return _shop["currency"] or currency_for(_shop["country"])


def money(minor: int, *, signed: bool = False) -> str:
    return format_money(minor, currency(), i18n.language(), _shop["country"], signed=signed)


def phone_as_typed(digits: str, country: str | None = None) -> str:
    """What the customer typed so far, grouped as the country writes numbers (067 123 45 67, +7 701 234 56 78):
    phonenumbers' as-you-type formatter, so a wrong digit stands out while typing."""
    formatter = phonenumbers.AsYouTypeFormatter(country or _shop["country"] or "UA")
    shown = ""
    for ch in digits:
        shown = formatter.input_digit(ch)
    return shown
