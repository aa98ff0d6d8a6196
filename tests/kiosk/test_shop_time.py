"""A chain's till shows times in its own shop's time zone (from /config's `shop`), not the Pi's system zone."""

from __future__ import annotations

from datetime import UTC, datetime

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
