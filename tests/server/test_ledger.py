"""Ledger operations: sale with accrual and discount, redeem, return linked to its sale, cancel."""

from __future__ import annotations

from store_server import cards


def test_sale_accrues_ten_percent_of_the_money_paid(shop_db):
    res = shop_db.ok("sale", card_number="10001", amount=50_000)["result"]
    assert res == {"amount": 50_000, "accrued": 5_000, "discount": 0, "bonus_payment": 0, "to_pay": 50_000,
                   "redeemed": 0, "paid": 50_000, "tier": None, "balance": 5_000, "receipt_no": 1}
    assert shop_db.balance("10001") == 5_000


def test_sale_spending_bonuses_earns_only_on_money(shop_db):
    shop_db.ok("sale", card_number="10001", amount=50_000)
    res = shop_db.ok("sale", card_number="10001", amount=20_000, redeem=3_000)["result"]
    assert res["redeemed"] == 3_000 and res["paid"] == 17_000 and res["accrued"] == 1_700
    assert shop_db.balance("10001") == 5_000 - 3_000 + 1_700


def test_discount_card_gets_discount_and_no_bonus(shop_db):
    with shop_db.engine.begin() as conn:
        cards.create_type(conn, "gold-discount", "discount", 7)
        cards.issue_range(conn, 500, 501, card_type="gold-discount")
    res = shop_db.ok("sale", card_number="500", amount=10_000)["result"]
    assert res["discount"] == 700 and res["paid"] == 9_300 and res["accrued"] == 0


def test_redeem_partial_and_never_below_zero(shop_db):
    shop_db.ok("sale", card_number="10001", amount=10_000)  # 1000 bonus
    assert shop_db.ok("redeem", card_number="10001", amount=400)["result"] == {"redeemed": 400, "balance": 600}
    res = shop_db.op("redeem", card_number="10001", amount=601)
    assert res["status"] == "rejected" and res["error"] == "insufficient_balance"
    res = shop_db.ok("redeem", card_number="10001", amount=5_000, allow_partial=True)["result"]
    assert res == {"redeemed": 600, "balance": 0}
    res = shop_db.op("redeem", card_number="10001", amount=1, allow_partial=True)
    assert res["error"] == "insufficient_balance"
    assert shop_db.balance("10001") == 0


def test_money_operations_need_a_cashier_device(shop_db):
    from tests.server.conftest import ENTRANCE
    res = shop_db.op("sale", device=ENTRANCE, card_number="10001", amount=100)
    assert res["error"] == "role_not_allowed"


def test_partial_returns_take_back_accrual_and_refund_spent_bonuses_pro_rata(shop_db):
    shop_db.ok("sale", card_number="10001", amount=100_000)  # +10 000
    sale = shop_db.ok("sale", card_number="10001", amount=30_000, redeem=6_000)  # -6000, paid 24 000, +2400
    assert shop_db.balance("10001") == 6_400
    first = shop_db.ok("return", sale_id=sale["id"], amount=10_000)["result"]
    # a third of the goods: a third of the accrual back, a third of the spent bonuses refunded
    assert first["bonuses_taken"] == 800 and first["bonuses_refunded"] == 2_000 and first["money_refund"] == 8_000
    rest = shop_db.ok("return", sale_id=sale["id"], amount=20_000)["result"]
    assert rest["bonuses_taken"] == 1_600 and rest["bonuses_refunded"] == 4_000 and rest["money_refund"] == 16_000
    assert shop_db.balance("10001") == 10_000  # as if the second sale never happened
    too_much = shop_db.op("return", sale_id=sale["id"], amount=1)
    assert too_much["error"] == "return_too_large"


def test_uneven_partial_returns_settle_exactly_on_the_last_one(shop_db):
    sale = shop_db.ok("sale", card_number="10001", amount=999)  # accrues 99
    taken = sum(shop_db.ok("return", sale_id=sale["id"], amount=333)["result"]["bonuses_taken"] for _ in range(3))
    assert taken == 99 and shop_db.balance("10001") == 0


def test_earn_spend_return_exploit_reduced_refund(shop_db):
    """Odoo #257854: buy, spend the bonus elsewhere, return the first purchase, keep the bonus. Not here."""
    sale = shop_db.ok("sale", card_number="10001", amount=100_000)  # pays 100 000, earns 10 000
    shop_db.ok("sale", card_number="10001", amount=10_000, redeem=10_000)  # spends all; pays 0, earns 0
    res = shop_db.ok("return", sale_id=sale["id"], amount=100_000)["result"]
    assert res["shortfall"] == 10_000 and res["money_refund"] == 90_000 and res["bonuses_taken"] == 0
    assert shop_db.balance("10001") == 0
    # net: paid 100 000 + 0, got back 90 000 and kept goods worth 10 000: exactly even, never ahead


def test_earn_spend_return_exploit_refused_when_shop_says_so(shop_db):
    shop_db.put("return_shortfall", "refuse")
    sale = shop_db.ok("sale", card_number="10001", amount=100_000)
    shop_db.ok("redeem", card_number="10001", amount=9_000)
    res = shop_db.op("return", sale_id=sale["id"], amount=100_000)
    assert res["status"] == "rejected" and res["error"] == "bonuses_already_spent"
    assert shop_db.balance("10001") == 1_000
    # half of it can still go back: 5000 to take, 1000 there -> refused too; a tenth (1000) fits
    assert shop_db.ok("return", sale_id=sale["id"], amount=10_000)["result"]["bonuses_taken"] == 1_000


def test_cancel_reverts_a_sale_and_refuses_when_bonuses_were_spent(shop_db):
    sale = shop_db.ok("sale", card_number="10001", amount=20_000, op_id="sale-0001")
    res = shop_db.ok("cancel", operation_id=sale["id"])["result"]
    assert res == {"cancelled": "sale-0001", "money_refund": 20_000, "balance": 0, "card_number": "10001",
                   "bonuses": -2_000}
    again = shop_db.op("cancel", operation_id=sale["id"])
    assert again["error"] == "already_cancelled"
    assert shop_db.op("return", sale_id=sale["id"], amount=1)["error"] == "already_cancelled"

    spent = shop_db.ok("sale", card_number="10002", amount=20_000)
    shop_db.ok("redeem", card_number="10002", amount=1_500)
    res = shop_db.op("cancel", operation_id=spent["id"])
    assert res["status"] == "rejected" and res["error"] == "bonuses_already_spent"
    assert shop_db.balance("10002") == 500


def test_cancel_of_a_redemption_gives_the_bonuses_back(shop_db):
    shop_db.ok("sale", card_number="10001", amount=20_000)
    red = shop_db.ok("redeem", card_number="10001", amount=1_500)
    shop_db.ok("cancel", operation_id=red["id"])
    assert shop_db.balance("10001") == 2_000
    assert shop_db.op("cancel", operation_id="no-such-op")["error"] == "not_cancellable"


def test_cancel_after_a_return_is_refused(shop_db):
    sale = shop_db.ok("sale", card_number="10001", amount=20_000)
    shop_db.ok("return", sale_id=sale["id"], amount=5_000)
    assert shop_db.op("cancel", operation_id=sale["id"])["error"] == "already_returned"


def test_rejected_operation_leaves_no_trace_in_the_ledger_and_replays_the_same(shop_db):
    res = shop_db.op("redeem", card_number="10001", amount=100, op_id="op-rejected-1")
    again = shop_db.op("redeem", card_number="10001", amount=100, op_id="op-rejected-1")
    assert res["error"] == again["error"] == "insufficient_balance"
    assert shop_db.balance("10001") == 0


def test_malformed_payloads_are_rejected_with_codes(shop_db):
    assert shop_db.op("sale", card_number="10001", amount="100")["error"] == "bad_amount"
    assert shop_db.op("sale", card_number="10001", amount=10**13)["error"] == "bad_amount"
    assert shop_db.op("sale", card_number=["x"], amount=1)["error"] == "bad_card_number"
    assert shop_db.op("sale", card_number="nope", amount=1)["error"] == "card_not_found"
    assert shop_db.op("teleport", card_number="10001")["error"] == "unknown_type"
    assert shop_db.op("return", sale_id=5, amount=1)["error"] == "sale_not_found"
