"""The till's flows against a real store server: sale with accrual, pay with bonuses and the code, return,
cancel (and the server's refusal shown), activation notice. The device syncs through its real outbox."""

from __future__ import annotations

import json
import time

import pytest

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.cancel import CancelFlow, CancelState
from kiosk.flows.redeem import RedeemFlow, RedeemState
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.flows.return_ import ReturnFlow, ReturnState
from kiosk.flows.sale import SaleFlow, SaleState
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker

PHONE = "+380671112233"
CARD = "10050"


def device(server, tmp_path, role, name):
    enrolled = server.enrol(role, name=name)
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / f"{name}.db")
    store.set_setting("shop_config", client.config())
    return Backend(store, client, SyncWorker(store, client))


def new_code_allowed():
    time.sleep(1.05)  # the shop's resend pause, shortened to one second for these tests


def type_in(flow, text):
    for ch in text:
        flow.press(ch)


def card(backend, number=CARD) -> dict:
    return backend.client.card(number)


@pytest.fixture(scope="module")
def till(store_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("till")
    # one customer gets many codes here: the shop's limits, not the flows, would be under test otherwise
    store_server.cli("settings", "set", "otp", json.dumps({"resend_after_seconds": 1, "sends_per_phone_15min": 50,
                                                          "sends_per_phone_day": 50}))
    entrance = device(store_server, tmp, "entrance", "entrance")
    flow = RegisterFlow(entrance, card_number=CARD)
    type_in(flow, PHONE)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    type_in(flow, store_server.last_code(PHONE))
    assert flow.submit_code() is RegisterState.DONE, flow.error
    entrance.sync.drain()
    backend = device(store_server, tmp, "cashier", "till")
    backend.sync.start()
    yield backend
    backend.sync.stop()


def settle(backend):
    backend.sync.drain()
    assert backend.store.counts()["failed"] == 0, backend.store.counts()


def test_sale_previews_then_accrues_on_the_server(till):
    before = card(till)["balance"]
    sale = SaleFlow(till, card(till), cashier="Olena")
    assert sale.preview() is SaleState.AMOUNT and sale.error == "bad_amount"
    type_in(sale, "250.005")  # the third decimal is ignored, like on a till
    assert sale.amount == 25000
    assert sale.preview() is SaleState.PREVIEW
    assert (sale.discount, sale.to_pay) == (0, 25000)
    assert sale.confirm() is SaleState.DONE
    assert not sale.settled  # shown as saved at once; the server's answer comes with the sync
    settle(till)
    assert card(till)["balance"] == before + 2500  # the demo shop's 10% back
    assert sale.settle() and sale.settled and not sale.settle()  # news once, then nothing more to look for
    assert sale.outcome.status == "done"
    assert (sale.outcome.result["accrued"], sale.outcome.result["balance"]) == (2500, before + 2500)


def test_pay_with_bonuses_asks_the_customer_for_the_code(till, store_server):
    current = card(till)
    flow = RedeemFlow(till, current)
    type_in(flow, str(current["balance"] // 100 + 1))
    assert flow.confirm() is RedeemState.AMOUNT and flow.error == "insufficient_balance"
    flow.press("clear")
    type_in(flow, "10")
    new_code_allowed()
    assert flow.confirm() is RedeemState.CODE and flow.error is None, flow.error
    type_in(flow, "000000" if store_server.last_code(PHONE) != "000000" else "111111")
    assert flow.submit_code() is RedeemState.CODE and flow.error == "wrong_code"
    assert flow.code.attempts_left is not None
    type_in(flow, store_server.last_code(PHONE))
    assert flow.submit_code() is RedeemState.DONE, flow.error
    settle(till)
    assert card(till)["balance"] == current["balance"] - 1000


def test_return_takes_back_the_accrual_pro_rata(till):
    sale = SaleFlow(till, card(till))
    type_in(sale, "200")
    sale.preview()
    sale.confirm()
    settle(till)
    before = card(till)["balance"]
    ret = ReturnFlow(till, card(till))
    assert ret.sales[0]["id"] == sale.operation_id and ret.sales[0]["left"] == 20000
    assert ret.pick(0) is ReturnState.AMOUNT and ret.amount == 20000
    ret.press("clear")
    type_in(ret, "300")
    assert ret.confirm() is ReturnState.AMOUNT and ret.error == "return_too_large"
    ret.press("clear")
    type_in(ret, "50")
    assert ret.confirm() is ReturnState.DONE, ret.error
    settle(till)
    assert card(till)["balance"] == before - 500  # a quarter of the 20.00 accrued
    assert ret.settle() and ret.outcome.result["money_refund"] == 5000
    # what is left of the sale is offered next time
    assert ReturnFlow(till, card(till)).sales[0]["left"] == 15000


def test_a_redemption_the_server_refuses_is_shown_refused(till, store_server, tmp_path):
    """A till's copy of the card was stale: the server settles on the real balance and says no, and the
    flow that was shown as saved learns it (the module's own till stays free of failures)."""
    other = device(store_server, tmp_path, "cashier", "stale-till")
    current = card(other)
    flow = RedeemFlow(other, {**current, "balance": current["balance"] + 10_000})
    type_in(flow, str(current["balance"] // 100 + 50))
    new_code_allowed()
    assert flow.confirm() is RedeemState.CODE, flow.error
    type_in(flow, store_server.last_code(PHONE))
    assert flow.submit_code() is RedeemState.DONE, flow.error
    assert not flow.settle()
    other.sync.drain()
    assert flow.settle() and flow.outcome.status == "refused"
    assert flow.outcome.error == "insufficient_balance"
    assert card(other)["balance"] == current["balance"]
    other.store.close()


def test_cancel_a_sale_reverts_it(till):
    sale = SaleFlow(till, card(till))
    type_in(sale, "40")
    sale.preview()
    sale.confirm()
    settle(till)
    before = card(till)["balance"]
    flow = CancelFlow(till, card(till))
    assert flow.candidates[0]["id"] == sale.operation_id
    # a returned sale cannot be cancelled any more, so it is not offered
    assert all(c["payload"].get("amount") != 20000 for c in flow.candidates)
    assert flow.pick(0) is CancelState.CONFIRM
    assert flow.confirm() is CancelState.DONE, flow.error
    assert card(till)["balance"] == before - 400


def test_cancel_refused_when_the_bonuses_were_spent_shows_the_reason(till, store_server):
    sale = SaleFlow(till, card(till))
    type_in(sale, "1000")
    sale.preview()
    sale.confirm()
    settle(till)
    spend = RedeemFlow(till, card(till))
    spend.use_all()
    new_code_allowed()
    assert spend.confirm() is RedeemState.CODE, spend.error
    type_in(spend, store_server.last_code(PHONE))
    assert spend.submit_code() is RedeemState.DONE
    settle(till)
    flow = CancelFlow(till, card(till))
    flow.pick([c["id"] for c in flow.candidates].index(sale.operation_id))
    assert flow.confirm() is CancelState.REFUSED
    assert flow.error == "bonuses_already_spent"


def test_code_for_the_discount_when_the_shop_wants_one(till, store_server, tmp_path):
    # a discount card bound to the same customer's phone is not possible (one phone, one card); the code
    # step is the same as for bonuses, so here only the decision is checked, with the shop's switch on
    config = dict(till.store.get_setting("shop_config"), code_required={"discount": True})
    till.store.set_setting("shop_config", config)
    try:
        flow = SaleFlow(till, {"number": CARD, "kind": "discount", "discount_percent": 5, "balance": 0})
        type_in(flow, "100")
        new_code_allowed()
        assert flow.preview() is SaleState.PREVIEW and flow.discount == 500 and flow.to_pay == 9500
        assert flow.confirm() is SaleState.CODE
        assert flow.error is None and store_server.last_code(PHONE)
        assert flow.code.challenge is not None and flow.code.amount == 500
    finally:
        till.store.set_setting("shop_config", dict(config, code_required={"redeem": True, "return": True}))
