"""The card screen's summary: notices per role and state, history parsing, who may activate."""

from __future__ import annotations

import time

from kiosk.backend import CardView
from kiosk.flows.balance import HISTORY_ROWS, Balance


def _view(state="active", *, kind="bonus", cached=False, history=None) -> CardView:
    card = {"number": "10001", "state": state, "kind": kind, "discount_percent": 7, "balance": 1500,
            "phone_masked": "+380 •• ••• •• 67",
            "history": history if history is not None else [
                {"kind": "accrual", "amount": 120, "at": "2026-11-20T10:00:00+00:00"}]}
    return CardView(card, cached, time.time() - 60)


def test_active_card_has_no_notice_and_its_history():
    b = Balance.of(_view(), role="entrance")
    assert (b.notice, b.can_activate, b.balance, b.discount_percent) == (None, False, 1500, 0)
    assert [(h.kind, h.amount, h.at.day) for h in b.history] == [("accrual", 120, 20)]


def test_discount_only_for_discount_cards():
    assert Balance.of(_view(kind="discount"), role="entrance").discount_percent == 7


def test_pre_issued_card_tells_the_customer_at_the_entrance_and_the_cashier_at_the_till():
    assert Balance.of(_view("issued"), role="entrance").notice == "not_activated"
    till = Balance.of(_view("issued"), role="cashier")
    assert till.notice == "not_activated_cashier" and till.can_activate
    assert not Balance.of(_view("issued"), role="cashier", till_activation="off").can_activate
    assert Balance.of(_view("issued"), role="cashier", till_activation="review").can_activate


def test_cached_card_says_when_and_cannot_be_activated_offline():
    b = Balance.of(_view("issued", cached=True), role="entrance")
    assert b.notice == "offline_as_of" and b.as_of is not None and not b.can_activate


def test_blocked_card():
    assert Balance.of(_view("blocked"), role="cashier").notice == "card_blocked"


def test_history_is_capped_and_a_broken_row_is_skipped():
    rows = [{"kind": "accrual", "amount": i, "at": f"2026-11-{i + 1:02d}T10:00:00"} for i in range(8)]
    rows.insert(1, {"kind": "accrual", "amount": 1, "at": "yesterday"})
    b = Balance.of(_view(history=rows), role="entrance")
    assert len(b.history) == HISTORY_ROWS - 1 and b.history[0].amount == 0


def test_a_card_waiting_for_review_says_so_and_cannot_be_activated_again():
    view = _view("issued")
    view.card.update(activation_pending=True, activation_requested_at="2026-11-23T10:00:00+00:00")
    for role in ("entrance", "cashier"):
        b = Balance.of(view, role=role, till_activation="review")
        assert (b.notice, b.can_activate) == ("activation_waits_for_approval", False)
    # offline the cache's word is as old as the cache: the notice says so, not that it still waits
    cached = CardView(dict(view.card), True, time.time() - 60)
    assert Balance.of(cached, role="cashier").notice == "offline_as_of"
