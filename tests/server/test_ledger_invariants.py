"""Property test: random operation sequences (receipts paid partly with bonuses under a changing cap, redemptions,
returns, cancels) keep balance = sum(ledger) >= 0 and never leave the customer ahead."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store_server import cards
from store_server.data.db import ledger

numbers = itertools.count(700_000)

steps = st.lists(st.one_of(
    # A receipt: amount, bonuses the customer wants to pay with, the old field name or the new one.
    st.tuples(st.just("sale"), st.integers(1, 50_000), st.integers(0, 8_000), st.booleans()),
    st.tuples(st.just("cap"), st.sampled_from([0, 30, 50, 100])),  # the shop changes bonus_payment_max_percent
    st.tuples(st.just("redeem"), st.integers(1, 6_000), st.booleans()),
    st.tuples(st.just("return"), st.integers(0, 20), st.integers(1, 100)),  # percent of what is left
    st.tuples(st.just("cancel"), st.integers(0, 20), st.booleans()),
), min_size=1, max_size=14)


@pytest.mark.parametrize("policy", ["reduce_refund", "refuse"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_random_sequences_keep_the_ledger_sound(shop_db, policy, steps):
    shop_db.put("return_shortfall", policy)
    number = str(next(numbers))
    with shop_db.engine.begin() as conn:
        cards.issue_range(conn, int(number), int(number))
    shop_db.put("bonus_payment_max_percent", 100)
    cap = 100
    sales, redeems, sold = [], [], {}
    paid = refunded = spent_outside = 0

    def check() -> int:
        with shop_db.engine.connect() as conn:
            total = conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0))
                                 .where(ledger.c.card_number == number)).scalar_one()
            shown = cards.get_card(conn, number)["balance"]
        assert shown == total >= 0
        return shown

    for step in steps:
        if step[0] == "cap":
            shop_db.put("bonus_payment_max_percent", step[1])
            cap = step[1]
        elif step[0] == "sale":
            field = "bonus_payment" if step[3] else "redeem"
            res = shop_db.op("sale", card_number=number, amount=step[1], allow_partial=True, **{field: step[2]})
            if res["status"] == "applied":
                r = res["result"]
                sales.append(res["id"])
                sold[res["id"]] = step[1]
                paid += r["to_pay"]
                # One receipt: bonuses within the cap, accrual (10 %) on the money paid only.
                assert r["bonus_payment"] <= min(step[2], step[1] * cap // 100)
                assert r["to_pay"] == step[1] - r["bonus_payment"] and r["accrued"] == r["to_pay"] // 10
        elif step[0] == "redeem":
            res = shop_db.op("redeem", card_number=number, amount=step[1], allow_partial=step[2])
            if res["status"] == "applied":
                redeems.append((res["id"], res["result"]["redeemed"]))
                spent_outside += res["result"]["redeemed"]
        elif step[0] == "return" and sales:
            sale_id = sales[step[1] % len(sales)]
            res = shop_db.op("return", sale_id=sale_id, amount=max(1, sold[sale_id] * step[2] // 100))
            if res["status"] == "applied":
                refunded += res["result"]["money_refund"]
                sold[res["result"]["sale_id"]] -= res["result"]["returned"]
        elif step[0] == "cancel" and (sales or redeems):
            pool = sales if (step[2] and sales) or not redeems else [r for r, _ in redeems]
            target = pool[step[1] % len(pool)]
            res = shop_db.op("cancel", operation_id=target)
            if res["status"] == "applied":
                refunded += res["result"]["money_refund"]
                spent_outside -= dict(redeems).get(target, 0)
        check()

    # Undo every sale that still can be: what the customer got back (money, bonuses left, bonuses spent
    # outside a sale) may never exceed what they paid.
    for sale_id in sales:
        res = shop_db.op("cancel", operation_id=sale_id)
        if res["status"] == "rejected" and res["error"] == "already_returned" and sold[sale_id]:
            res = shop_db.op("return", sale_id=sale_id, amount=sold[sale_id])
        if res["status"] == "applied":
            refunded += res["result"]["money_refund"]
    assert refunded + check() + spent_outside <= paid
