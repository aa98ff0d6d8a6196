"""One receipt = one sale: the preview the till shows equals what the sale books; the bonus-payment cap."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from store_server import cards
from store_server.data.db import rules as rules_table
from store_server.errors import DomainError
from store_server.ledger import operations, rules, tiers
from tests.server.conftest import CASHIER

numbers = itertools.count(810_000)
START = datetime(2026, 1, 1, tzinfo=UTC)


def preview(shop_db, at: datetime, **payload) -> dict:
    with shop_db.engine.connect() as conn:
        return operations.preview_sale(conn, CASHIER, payload, at)


@pytest.fixture
def rich_shop(shop_db):
    """Rules by time of day and weekday, tiers by turnover, a discount card type: all the engine's inputs."""
    with shop_db.engine.begin() as conn:
        conn.execute(delete(rules_table))
        rules.create(conn, name="morning", kind="percent", value=2000, priority=0, combine=False,
                     time_from=9 * 60, time_to=11 * 60)
        rules.create(conn, name="weekend", kind="fixed", value=150, priority=5, weekdays="67")
        rules.create(conn, name="base", kind="percent", value=1000, priority=10)
        tiers.create(conn, name="silver", min_turnover=60_000, rate=300)
        cards.create_type(conn, "staff", "discount", 15)
    return shop_db


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(receipts=st.lists(st.tuples(
    st.integers(1, 40_000),  # amount
    st.integers(0, 6_000),  # bonus payment asked for
    st.booleans(),  # allow_partial
    st.integers(0, 60 * 24 * 20),  # minutes since START: times of day, weekdays, tier windows
    st.sampled_from([100, 50, 0, 30]),  # the shop's cap
    st.booleans(),  # discount card
), min_size=1, max_size=8))
def test_preview_equals_what_the_sale_books(rich_shop, receipts):
    shop_db = rich_shop
    bonus_card, discount_card = str(next(numbers)), str(next(numbers))
    with shop_db.engine.begin() as conn:
        cards.issue_range(conn, int(bonus_card), int(bonus_card))
        cards.issue_range(conn, int(discount_card), int(discount_card), card_type="staff")
    for amount, wanted, partial, minutes, cap, discount in sorted(receipts, key=lambda r: r[3]):
        shop_db.put("bonus_payment_max_percent", cap)
        at = START + timedelta(minutes=minutes)
        payload = {"card_number": discount_card if discount else bonus_card, "amount": amount,
                   "bonus_payment": wanted, "allow_partial": partial}
        try:
            shown = preview(shop_db, at, **payload)
        except DomainError as e:
            res = shop_db.op("sale", at=at, **payload)
            assert (res["status"], res["error"]) == ("rejected", e.code)
            continue
        res = shop_db.ok("sale", at=at, **payload)["result"]
        for key in ("amount", "discount", "bonus_payment", "to_pay", "accrued"):
            assert shown[key] == res[key], (key, shown, res)
        assert shown["balance_after"] == res["balance"]
        assert shown["bonus_payment"] <= shown["max_bonus_payment"] <= (amount - shown["discount"]) * cap // 100
        assert res["to_pay"] == amount - res["discount"] - res["bonus_payment"]


def test_accrual_is_earned_on_the_money_paid_not_on_the_bonuses(shop_db):
    shop_db.ok("sale", card_number="10001", amount=50_000)  # 5 000 bonuses
    res = shop_db.ok("sale", card_number="10001", amount=25_000, bonus_payment=1_000)["result"]
    assert (res["bonus_payment"], res["to_pay"], res["accrued"]) == (1_000, 24_000, 2_400)
    assert (res["redeemed"], res["paid"]) == (1_000, 24_000)  # the old names, for tills in the field
    assert res["balance"] == 5_000 - 1_000 + 2_400


def test_redeem_is_still_accepted_as_the_old_name_of_bonus_payment(shop_db):
    shop_db.ok("sale", card_number="10001", amount=50_000)
    res = shop_db.ok("sale", card_number="10001", amount=10_000, redeem=2_000)["result"]
    assert res["bonus_payment"] == 2_000 and res["to_pay"] == 8_000


def test_cap_refuses_more_than_the_shops_share_unless_partial(shop_db):
    shop_db.put("bonus_payment_max_percent", 50)
    shop_db.ok("sale", card_number="10001", amount=200_000)  # 20 000 bonuses
    res = shop_db.op("sale", card_number="10001", amount=10_000, bonus_payment=6_000)
    assert (res["status"], res["error"]) == ("rejected", "bonus_payment_over_cap")
    shown = preview(shop_db, shop_db.at, card_number="10001", amount=10_000)
    assert shown["max_bonus_payment"] == 5_000 and shown["bonus_payment"] == 0
    res = shop_db.ok("sale", card_number="10001", amount=10_000, bonus_payment=6_000, allow_partial=True)
    assert res["result"]["bonus_payment"] == 5_000 and res["result"]["to_pay"] == 5_000


def test_preview_names_the_code_the_receipt_needs(shop_db):
    shop_db.put("code_required", {"redeem": True, "discount": False, "return": True})
    shop_db.ok("sale", card_number="10001", amount=50_000)
    shown = preview(shop_db, shop_db.at, card_number="10001", amount=10_000, bonus_payment=700)
    assert (shown["code_purpose"], shown["code_amount"]) == ("redeem", 700)
    assert preview(shop_db, shop_db.at, card_number="10001", amount=10_000)["code_purpose"] is None
    res = shop_db.op("sale", card_number="10001", amount=10_000, bonus_payment=700)
    assert (res["status"], res["error"]) == ("rejected", "verification_impossible")  # an anonymous card


def test_return_gives_spent_bonuses_back_pro_rata_and_no_more(shop_db):
    shop_db.ok("sale", card_number="10001", amount=100_000)  # 10 000
    sale = shop_db.ok("sale", card_number="10001", amount=25_000, bonus_payment=1_000)
    first = shop_db.ok("return", sale_id=sale["id"], amount=10_000)["result"]
    assert first["bonus_payment_refunded"] == 400 and first["bonuses_taken"] == 960
    rest = shop_db.ok("return", sale_id=sale["id"], amount=15_000)["result"]
    assert first["bonus_payment_refunded"] + rest["bonus_payment_refunded"] == 1_000
    assert shop_db.balance("10001") == 10_000
    res = shop_db.op("return", sale_id=sale["id"], amount=1)
    assert (res["status"], res["error"]) == ("rejected", "return_too_large")


def test_returns_and_cancels_end_after_the_shops_return_days(shop_db):
    shop_db.put("return_days", 30)
    sale = shop_db.ok("sale", card_number="10001", amount=10_000)
    late = shop_db.at + timedelta(days=31)
    for type_, payload in (("return", {"sale_id": sale["id"], "amount": 100}),
                           ("cancel", {"operation_id": sale["id"]})):
        res = shop_db.op(type_, at=late, **payload)
        assert (res["status"], res["error"]) == ("rejected", "return_period_over")
    assert shop_db.ok("return", sale_id=sale["id"], amount=100, at=shop_db.at + timedelta(days=29))
