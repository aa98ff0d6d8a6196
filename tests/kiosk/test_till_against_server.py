"""The till's flows against a real store server, at two tills of the shop: a cashier signs in (PIN and
badge), one receipt with bonus payment (the preview's figures are what the server books), then a partial
and a full return at ANOTHER till (spent bonuses given back, never more than were spent), a cancel at
another till and the server's refusal shown, the card found by phone only with the customer's code, and
nothing half-done without the server. The devices sync through their real outboxes."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager

import pytest

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.cancel import CancelFlow, CancelState
from kiosk.flows.identify import IdentifyFlow, IdentifyState
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.flows.return_ import ReturnFlow, ReturnState
from kiosk.flows.sale import SaleFlow, SaleState
from kiosk.flows.signin import SignInFlow
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


def add_cashier(server, name, badge=None) -> str:
    out = server.cli("cashiers", "add", name, *(["--badge", badge] if badge else []))
    return out.rsplit("PIN", 1)[1].split()[0]


def sign_in(backend, pin) -> str:
    flow = SignInFlow(backend)
    type_in(flow, pin)
    session = flow.submit()
    assert session is not None, flow.error
    backend.cashier = session.cashier_id
    return session.cashier_id


@contextmanager
def syncing(backend):
    """Returns and cancels wait for the server's verdict, which the till's running sync brings."""
    backend.sync.start()
    try:
        yield
    finally:
        backend.sync.stop()


def settle(backend):
    backend.sync.drain()
    assert backend.store.counts()["failed"] == 0, backend.store.failed()


@pytest.fixture(scope="module")
def shop(store_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tills")
    # one customer gets many codes here: the shop's limits, not the flows, would be under test otherwise
    store_server.cli("settings", "set", "otp", json.dumps({"resend_after_seconds": 1, "sends_per_phone_15min": 50,
                                                          "sends_per_phone_day": 50}))
    store_server.cli("settings", "set", "bonus_payment_max_percent", "50")
    pins = {"olena": add_cashier(store_server, "Olena", badge="STAFF-7"), "petro": add_cashier(store_server, "Petro")}
    entrance = device(store_server, tmp, "entrance", "entrance")
    flow = RegisterFlow(entrance, card_number=CARD)
    type_in(flow, PHONE)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    type_in(flow, store_server.last_code(PHONE))
    assert flow.submit_code() is RegisterState.DONE, flow.error
    entrance.sync.drain()
    till_a, till_b = device(store_server, tmp, "cashier", "till-a"), device(store_server, tmp, "cashier", "till-b")
    yield {"a": till_a, "b": till_b, "pins": pins, "entrance": entrance, "server": store_server}
    for backend in (till_a, till_b, entrance):
        backend.store.close()


def booked_cashier(server, op_id) -> str | None:
    with sqlite3.connect(server.database) as conn:
        row = conn.execute("select cashier from operations where id = ?", (op_id,)).fetchone()
    return row[0] if row else None


def test_a_cashier_signs_in_with_the_pin_or_the_badge(shop):
    till = shop["a"]
    wrong = SignInFlow(till)
    type_in(wrong, "0000" if shop["pins"]["olena"] != "0000" else "1111")
    assert wrong.submit() is None and wrong.error == "cashier_pin_wrong"
    assert isinstance(wrong.attempts_left, int)
    by_badge = SignInFlow(till).badge("STAFF-7")
    assert by_badge is not None and by_badge.name == "Olena"
    entrance = SignInFlow(shop["entrance"])
    type_in(entrance, shop["pins"]["olena"])
    assert entrance.submit() is None and entrance.error == "role_not_allowed"


def test_one_receipt_with_bonus_payment_then_partial_and_full_return_at_another_till(shop):
    server, till_a, till_b = shop["server"], shop["a"], shop["b"]
    olena = sign_in(till_a, shop["pins"]["olena"])
    # bonuses to spend first: a plain receipt of 250 earns the demo shop's 10 %
    first = SaleFlow(till_a, card(till_a), cashier=olena)
    type_in(first, "250")
    assert first.preview() is SaleState.PREVIEW and first.accrual == 2500 and not first.offline
    assert first.confirm() is SaleState.DONE
    settle(till_a)
    assert first.settle() and first.outcome.result["accrued"] == 2500
    assert booked_cashier(server, first.operation_id) == olena

    before = card(till_a)["balance"]
    sale = SaleFlow(till_a, card(till_a), cashier=olena)
    type_in(sale, "100")
    sale.preview()
    assert sale.max_bonus_payment == min(before, 5000)  # the shop's cap: half the receipt
    assert sale.choose_bonus() is SaleState.BONUS
    sale.bonus_entry.set_minor(sale.max_bonus_payment + 100)
    assert sale.apply_bonus() is SaleState.BONUS and sale.error == "bonus_payment_over_max"
    sale.bonus_entry.set_minor(1000)
    assert sale.apply_bonus() is SaleState.PREVIEW, sale.error
    preview = dict(sale.receipt)
    assert (preview["bonus_payment"], preview["to_pay"], preview["accrued"]) == (1000, 9000, 900)
    type_in(sale, "0")  # frozen: a stray tap changes nothing
    assert sale.amount == 10000
    new_code_allowed()
    assert sale.confirm() is SaleState.CODE, sale.error
    assert sale.code.amount == 1000
    type_in(sale, server.last_code(PHONE))
    assert sale.submit_code() is SaleState.DONE, sale.error
    settle(till_a)
    assert sale.settle()
    booked = sale.outcome.result
    # what the till showed is what the server booked
    assert {k: booked[k] for k in ("amount", "discount", "bonus_payment", "to_pay", "accrued")} == {
        k: preview[k] for k in ("amount", "discount", "bonus_payment", "to_pay", "accrued")}
    assert card(till_a)["balance"] == before - 1000 + 900

    # at the other till, with another cashier: the server lists the card's sales, newest first
    petro = sign_in(till_b, shop["pins"]["petro"])
    with syncing(till_b):
        returns_at_another_till(shop, sale, petro, before)


def returns_at_another_till(shop, sale, petro, before):
    server, till_b = shop["server"], shop["b"]
    ret = ReturnFlow(till_b, card(till_b), cashier=petro)
    assert ret.load()
    assert ret.options[0]["operation_id"] == sale.operation_id and ret.options[0]["returnable_amount"] == 10000
    ret.pick(0)
    ret.entry.set_minor(4000)
    assert (ret.refund(), ret.money_back()) == (400, 3600)
    new_code_allowed()
    assert ret.confirm() is ReturnState.CODE, ret.error  # bonuses go back: the demo shop wants the code
    type_in(ret, server.last_code(PHONE))
    assert ret.submit_code() is ReturnState.DONE, ret.error
    assert ret.outcome.status == "done", ret.outcome  # the cashier waits for the server's verdict
    result = ret.outcome.result
    assert result["money_refund"] == 3600
    assert result.get("bonus_payment_refunded", result.get("bonuses_refunded")) == 400
    assert booked_cashier(server, ret.operation_id) == petro

    # the rest, again at till B, found by the receipt's number this time
    rest = ReturnFlow(till_b, card(till_b), cashier=petro)
    rest.load()
    receipt = next(s for s in rest.options if s["operation_id"] == sale.operation_id)["receipt_no"]
    rest.type_receipt()
    type_in(rest, str(receipt))
    assert rest.confirm() is ReturnState.AMOUNT, rest.error
    assert rest.amount == 6000 and rest.refund() == 600
    new_code_allowed()
    assert rest.confirm() is ReturnState.CODE
    type_in(rest, server.last_code(PHONE))
    assert rest.submit_code() is ReturnState.DONE and rest.outcome.status == "done", rest.outcome
    refunded = rest.outcome.result.get("bonus_payment_refunded", rest.outcome.result.get("bonuses_refunded"))
    assert refunded == 600  # 400 + 600: exactly the 1000 spent, never more
    assert card(till_b)["balance"] == before  # accrual taken back, spent bonuses given back
    after = ReturnFlow(till_b, card(till_b))
    after.load()
    assert sale.operation_id not in [s["operation_id"] for s in after.options]


def test_a_cancel_at_another_till_and_a_refusal_shown(shop):
    till_a, till_b = shop["a"], shop["b"]
    olena = sign_in(till_a, shop["pins"]["olena"])
    sale = SaleFlow(till_a, card(till_a), cashier=olena)
    type_in(sale, "40")
    sale.preview()
    sale.confirm()
    settle(till_a)
    before = card(till_b)["balance"]
    flow = CancelFlow(till_b, card(till_b), cashier=sign_in(till_b, shop["pins"]["petro"]))
    assert flow.load()
    assert flow.options[0]["operation_id"] == sale.operation_id
    assert flow.pick(0) is CancelState.CONFIRM
    with syncing(till_b):
        assert flow.confirm() is CancelState.DONE, flow.error
    assert card(till_b)["balance"] == before - 400
    again = CancelFlow(till_b, card(till_b))
    again.load()
    assert sale.operation_id not in [s["operation_id"] for s in again.options]
    assert again.submit_receipt(sale.operation_id) is CancelState.PICK and again.error is not None


def test_a_phone_look_up_at_the_till_needs_the_customers_code(shop):
    server, till = shop["server"], shop["a"]
    flow = IdentifyFlow(till)
    flow.start_typing("phone", role="cashier")
    type_in(flow, PHONE)
    new_code_allowed()
    assert flow.submit_typed() is IdentifyState.CODE, flow.error
    type_in(flow, server.last_code(PHONE))
    assert flow.submit_code() is IdentifyState.CARD, flow.error
    assert flow.card["number"] == CARD


def test_without_the_server_a_return_does_nothing_and_says_so(shop, tmp_path):
    store = LocalStore(tmp_path / "offline.db")
    backend = Backend(store, StoreClient("http://127.0.0.1:9", timeout=0.5))
    for flow in (ReturnFlow(backend, {"number": CARD}), CancelFlow(backend, {"number": CARD})):
        assert not flow.load() and flow.error == "needs_server"
    offline = SignInFlow(backend)
    type_in(offline, "1234")
    assert offline.submit() is None and offline.error == "signin_needs_server"
    assert store.counts()["pending"] == 0
    store.close()
