"""A chain's till shows times in its own shop's time zone (from /config's `shop`), not the Pi's system zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from kiosk.screens import format


def test_times_are_the_shops_once_config_names_its_zone():
    at = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
    saved = dict(format._shop)
    try:
        format.use_shop({"country": "KZ", "shop": {"code": "ALA1", "timezone": "Asia/Almaty"}})
        assert format.local(at).strftime("%d.%m %H:%M") == "21.11 01:30"
        format.use_shop({"country": "UA", "shop": {"code": "main", "timezone": "Europe/Kyiv"}})
        assert format.local(at).strftime("%d.%m %H:%M") == "20.11 22:30"
        format.use_shop({"country": "UA"})  # an older server without `shop`: the zone it had stays
        assert format.local(at).strftime("%H:%M") == "22:30"
    finally:
        format._shop.clear()
        format._shop.update(saved)


def test_the_birthday_picker_counts_days_in_the_shops_zone():
    """The date picker's today (app.start_registration sets it) is the shop's: past 19:00 UTC it is already
    tomorrow in Almaty, and a birthday picked as that day is not in the future there."""
    saved = dict(format._shop)
    try:
        for zone in ("Asia/Almaty", "Pacific/Kiritimati", "Pacific/Pago_Pago"):  # UTC+5, +14, -11
            format.use_shop({"country": "KZ", "shop": {"code": "X", "timezone": zone}})
            assert format.shop_today() == datetime.now(ZoneInfo(zone)).date(), zone
    finally:
        format._shop.clear()
        format._shop.update(saved)
