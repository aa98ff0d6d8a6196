"""Rules engine, tiers by rolling turnover, bonus expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from store_server import cards
from store_server.data.db import rules as rules_table
from store_server.errors import DomainError
from store_server.ledger import operations, rules, tiers

KYIV = ZoneInfo("Europe/Kyiv")


def local(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=KYIV)


def only_rules(shop_db, *specs) -> None:
    with shop_db.engine.begin() as conn:
        conn.execute(delete(rules_table))
        for spec in specs:
            rules.create(conn, **spec)


def accrued(shop_db, at, amount=10_000, card="10001") -> int:
    return shop_db.ok("sale", card_number=card, amount=amount, at=at)["result"]["accrued"]


def test_seed_example_20_percent_from_9_to_11_otherwise_10(shop_db):
    only_rules(shop_db,
               dict(name="morning", kind="percent", value=2000, priority=0, combine=False,
                    time_from=rules.parse_time("9:00"), time_to=rules.parse_time("11:00")),
               dict(name="base", kind="percent", value=1000, priority=10))
    assert accrued(shop_db, local(2026, 11, 23, 9, 0)) == 2_000
    assert accrued(shop_db, local(2026, 11, 23, 10, 59)) == 2_000
    assert accrued(shop_db, local(2026, 11, 23, 11, 0)) == 1_000
    assert accrued(shop_db, local(2026, 11, 23, 8, 59)) == 1_000
    # the window is the shop's local time: 08:30 UTC is 10:30 in Kyiv in November
    assert accrued(shop_db, datetime(2026, 11, 23, 8, 30, tzinfo=UTC)) == 2_000


def test_combined_rules_add_up_and_a_non_combining_rule_after_them_is_skipped(shop_db):
    only_rules(shop_db,
               dict(name="base", kind="percent", value=500, priority=0),
               dict(name="fixed", kind="fixed", value=300, priority=1),
               dict(name="solo", kind="percent", value=5000, priority=2, combine=False),
               dict(name="never reached", kind="fixed", value=99, priority=3))
    assert accrued(shop_db, local(2026, 11, 23, 12)) == 500 + 300


def test_weekday_validity_and_card_type(shop_db):
    with shop_db.engine.begin() as conn:
        cards.create_type(conn, "vip", "bonus")
        cards.issue_range(conn, 900, 900, card_type="vip")
    only_rules(shop_db,
               dict(name="weekend", kind="percent", value=3000, priority=0, combine=False, weekdays="67"),
               dict(name="black friday", kind="percent", value=2500, priority=1, combine=False,
                    valid_from=date(2026, 11, 27), valid_to=date(2026, 11, 27)),
               dict(name="vip", kind="percent", value=1500, priority=2, combine=False, card_type="vip"),
               dict(name="base", kind="percent", value=1000, priority=10))
    assert accrued(shop_db, local(2026, 11, 28, 12)) == 3_000  # Saturday
    assert accrued(shop_db, local(2026, 11, 27, 12)) == 2_500  # Friday 27th only
    assert accrued(shop_db, local(2026, 11, 26, 12)) == 1_000
    assert accrued(shop_db, local(2026, 11, 26, 12), card="900") == 1_500


def test_window_across_midnight():
    night = rules.Rule(1, "night", "percent", 500, 0, True, time_from=22 * 60, time_to=2 * 60)
    assert night.fits(local(2026, 1, 1, 23), "standard") and night.fits(local(2026, 1, 1, 1, 59), "standard")
    assert not night.fits(local(2026, 1, 1, 2), "standard")


@pytest.mark.parametrize("spec", [
    dict(kind="percent", value=10_001), dict(kind="weird", value=1), dict(kind="fixed", value=-1),
    dict(kind="fixed", value=1, weekdays="08"), dict(kind="fixed", value=1, time_from=60),
    dict(kind="fixed", value=1, valid_from=date(2026, 2, 1), valid_to=date(2026, 1, 1)),
])
def test_bad_rules_are_refused(shop_db, spec):
    with shop_db.engine.begin() as conn, pytest.raises(DomainError):
        rules.create(conn, name="x", **spec)


def test_tiers_move_up_and_down_with_rolling_turnover(shop_db):
    shop_db.put("tier_period_days", 30)
    with shop_db.engine.begin() as conn:
        tiers.create(conn, name="silver", min_turnover=100_000, rate=200)
        tiers.create(conn, name="gold", min_turnover=300_000, rate=500)
    t0 = local(2026, 11, 1, 12)
    first = shop_db.ok("sale", card_number="10001", amount=100_000, at=t0)["result"]
    assert first["tier"] is None and first["accrued"] == 10_000
    second = shop_db.ok("sale", card_number="10001", amount=200_000, at=t0 + timedelta(days=1))["result"]
    assert second["tier"] == "silver" and second["accrued"] == 20_000 + 4_000
    third = shop_db.ok("sale", card_number="10001", amount=10_000, at=t0 + timedelta(days=2))["result"]
    assert third["tier"] == "gold" and third["accrued"] == 1_000 + 500
    # a month later the first purchases have left the window: down again
    later = shop_db.ok("sale", card_number="10001", amount=10_000, at=t0 + timedelta(days=31, hours=1))["result"]
    assert later["tier"] is None and later["accrued"] == 1_000


def test_returned_money_does_not_count_for_tiers(shop_db):
    with shop_db.engine.begin() as conn:
        tiers.create(conn, name="silver", min_turnover=100_000, rate=200)
    sale = shop_db.ok("sale", card_number="10001", amount=100_000)
    shop_db.ok("return", sale_id=sale["id"], amount=50_000)
    assert shop_db.ok("sale", card_number="10001", amount=1_000)["result"]["tier"] is None


def test_bonus_expiry_writes_off_only_unspent_old_bonuses(shop_db):
    t0 = datetime(2026, 1, 10, 12, tzinfo=UTC)
    shop_db.ok("sale", card_number="10001", amount=50_000, at=t0)  # 5000, old
    shop_db.ok("redeem", card_number="10001", amount=2_000, at=t0 + timedelta(days=100))
    shop_db.ok("sale", card_number="10001", amount=10_000, at=t0 + timedelta(days=200))  # 1000, fresh
    now = t0 + timedelta(days=220)
    assert operations.expire_bonuses(shop_db.engine, now=now) == 0  # expiry off by default
    shop_db.put("bonus_expiry_days", 180)
    assert operations.expire_bonuses(shop_db.engine, now=now) == 3_000
    assert shop_db.balance("10001") == 1_000
    assert operations.expire_bonuses(shop_db.engine, now=now) == 0  # nothing twice


def test_rule_windows_are_read_in_each_shops_time_zone(shop_db):
    """A morning rule (09:00-11:00) at 05:00 UTC: 10:00 in Almaty (it applies), 07:00 in Kyiv (it does not)."""
    from datetime import UTC, datetime

    from store_server import shops
    from store_server.ledger import rules as rules_module

    with shop_db.engine.begin() as conn:
        shops.ensure_default(conn)
        shops.add(conn, "ALA1", name="Almaty", timezone="Asia/Almaty", country="KZ")
        rules_module.create(conn, name="morning", kind="percent", value=500, priority=0, time_from=540, time_to=660)
    at = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
    kyiv = shop_db.op("sale", device={"id": "t-k", "role": "cashier", "shop": "main"}, card_number="10001",
                      amount=10_000, at=at)
    almaty = shop_db.op("sale", device={"id": "t-a", "role": "cashier", "shop": "ALA1"}, card_number="10002",
                        amount=10_000, at=at)
    assert kyiv["result"]["accrued"] == 1_000  # the demo's 10 % only
    assert almaty["result"]["accrued"] == 1_500  # and the morning's 5 %


def test_a_tier_of_some_shops_adds_its_rate_only_there_on_the_chains_turnover(shop_db):
    """`tiers add ... --shop ALA1`: a customer whose money (spent in Kyiv) reaches the tier gets its rate in
    Almaty, not in Kyiv; a chain-wide tier applies in both."""
    from store_server import shops

    kyiv_till = {"id": "t-k", "role": "cashier", "shop": "main"}
    almaty_till = {"id": "t-a", "role": "cashier", "shop": "ALA1"}
    with shop_db.engine.begin() as conn:
        shops.ensure_default(conn)
        shops.add(conn, "ALA1", name="Almaty", timezone="Asia/Almaty", country="KZ")
        tiers.create(conn, name="Almaty silver", min_turnover=100_000, rate=200, shops=["ALA1"])
    shop_db.ok("sale", device=kyiv_till, card_number="10001", amount=100_000)  # turnover earned in Kyiv
    in_kyiv = shop_db.ok("sale", device=kyiv_till, card_number="10001", amount=10_000)["result"]
    assert in_kyiv["tier"] is None and in_kyiv["accrued"] == 1_000  # the demo's 10 % only
    in_almaty = shop_db.ok("sale", device=almaty_till, card_number="10001", amount=10_000)["result"]
    assert in_almaty["tier"] == "Almaty silver" and in_almaty["accrued"] == 1_000 + 200
    with shop_db.engine.begin() as conn:
        tiers.create(conn, name="chain silver", min_turnover=100_000, rate=100)
    again = shop_db.ok("sale", device=kyiv_till, card_number="10001", amount=10_000)["result"]
    assert again["tier"] == "chain silver" and again["accrued"] == 1_000 + 100
