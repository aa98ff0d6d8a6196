"""Reports count operations per day, device and cashier the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from store_server import reports


def test_operations_per_day_device_cashier(shop_db):
    day1, day2 = datetime(2026, 11, 20, 23, 30, tzinfo=UTC), datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
    for at, cashier in ((day1, "olga"), (day1, "olga"), (day2, "ivan")):
        shop_db.ok("sale", card_number="10001", amount=1_000, at=at, cashier=cashier)
    shop_db.op("redeem", card_number="10001", amount=10**6, at=day2)  # rejected
    with shop_db.engine.connect() as conn:
        by_day = reports.operations_report(conn, "day")
        by_cashier = reports.operations_report(conn, "cashier", since=day2)
        by_device = reports.operations_report(conn, "device")
    assert {"day": "2026-11-20", "type": "sale", "status": "applied", "count": 2} in by_day
    assert {"day": "2026-11-21", "type": "redeem", "status": "rejected", "count": 1} in by_day
    assert {"cashier": "ivan", "type": "sale", "status": "applied", "count": 1} in by_cashier
    assert all(r["cashier"] != "olga" for r in by_cashier)
    assert {"device": "till-1", "type": "sale", "status": "applied", "count": 3} in by_device
    assert reports.to_csv(by_day, ["day", "type", "status", "count"]).startswith("day,type,status,count\n")
