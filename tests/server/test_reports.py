"""Reports count operations per day, device and cashier the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from store_server.reporting import operations_csv as reports


def test_operations_per_day_device_cashier(shop_db):
    # 23:30 and 00:30 in Kyiv (the demo's time zone): the report's days are the shop's, not UTC's
    day1, day2 = datetime(2026, 11, 20, 21, 30, tzinfo=UTC), datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
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


def test_each_shops_days_are_its_own_and_reports_group_and_filter_by_shop(shop_db):
    """20:30 UTC is 22:30 in Kyiv but 01:30 the next day in Almaty: a chain's report counts each sale on its
    own shop's date; --by shop and --shop split the chain."""
    from store_server import shops

    with shop_db.engine.begin() as conn:
        shops.ensure_default(conn)
        shops.add(conn, "ALA1", name="Almaty", timezone="Asia/Almaty", country="KZ")
    kyiv = {"id": "till-kyiv", "role": "cashier", "shop": "main"}
    almaty = {"id": "till-almaty", "role": "cashier", "shop": "ALA1"}
    at = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
    for device in (kyiv, almaty, almaty):
        assert shop_db.op("sale", device=device, card_number="10001", amount=1_000, at=at)["status"] == "applied"
    with shop_db.engine.connect() as conn:
        by_day = reports.operations_report(conn, "day")
        by_shop = reports.operations_report(conn, "shop")
        almaty_days = reports.operations_report(conn, "day", shop="ALA1")
    assert by_day == [{"day": "2026-11-20", "type": "sale", "status": "applied", "count": 1},
                      {"day": "2026-11-21", "type": "sale", "status": "applied", "count": 2}]
    assert by_shop == [{"shop": "ALA1", "type": "sale", "status": "applied", "count": 2},
                       {"shop": "main", "type": "sale", "status": "applied", "count": 1}]
    assert almaty_days == [{"day": "2026-11-21", "type": "sale", "status": "applied", "count": 2}]
