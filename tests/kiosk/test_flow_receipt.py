"""The till's flows as state machines, without a window: the receipt (frozen preview, bonuses to spend, the
code the server asks for, one sale queued with the cashier), returns and cancels from the server's list,
the cashier's sign-in, a phone look-up with the customer's code.

The server's side is a small stand-in answering as /work/CONTRACT13.md says (the same flows run against the
real server in test_till_against_server.py); the outbox is the real SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.backend import Backend
from kiosk.client import BadResponse, ServerRefused, ServerUnreachable
from kiosk.flows.cancel import CancelFlow, CancelState
from kiosk.flows.identify import IdentifyFlow, IdentifyState
from kiosk.flows.return_ import ReturnFlow, ReturnState
from kiosk.flows.sale import SaleFlow, SaleState
from kiosk.flows.signin import SignInFlow
from kiosk.store import LocalStore

CARD = {"number": "10001", "kind": "bonus", "balance": 50000, "state": "active"}


class Server:
    """Answers like the store server's device API; `down` makes every call fail like a dead network."""

    def __init__(self) -> None:
        self.down = False
        self.cap_percent = 50
        self.code_purpose: str | None = None
        self.calls: list[tuple] = []
        self.sales: list[dict] = []

    def _call(self, *call):
        self.calls.append(call)
        if self.down:
            raise ServerUnreachable("store server unreachable: ConnectionError")

    def receipt_preview(self, card_number, amount, bonus_payment=0):
        self._call("preview", card_number, amount, bonus_payment)
        cap = min(CARD["balance"], amount * self.cap_percent // 100)
        if bonus_payment > cap:
            raise ServerRefused(409, "bonus_payment_over_cap", "over the cap", {})
        to_pay = amount - bonus_payment
        return {"amount": amount, "discount": 0, "bonus_payment": bonus_payment, "max_bonus_payment": cap,
                "to_pay": to_pay, "accrued": to_pay // 10, "balance_after": 0,
                "code_purpose": self.code_purpose if bonus_payment else None}

    def request_code(self, phone, purpose, **kw):
        self._call("otp", phone, purpose, kw.get("card_number"), kw.get("amount"))
        return {"challenge_id": "ch-1"}

    def check_code(self, challenge_id, code):
        self._call("check", challenge_id, code)
        if code != "123456":
            raise ServerRefused(400, "wrong_code", "wrong", {"attempts_left": 4})
        return {"verification_token": "tok-1"}

    def card_sales(self, number, limit=20):
        self._call("sales", number)
        return [s for s in self.sales if s["card_number"] == number]

    def sale(self, receipt):
        self._call("sale", receipt)
        for s in self.sales:
            if receipt in (s["operation_id"], s["receipt_no"]):
                return s
        raise ServerRefused(404, "sale_not_found", "no such sale", {})

    def cashier_login(self, pin=None, badge=None):
        self._call("login", pin, badge)
        if pin == "4711" or badge == "STAFF-7":
            return {"cashier_id": "7", "name": "Olena", "expires_at": "2026-11-26T22:00:00+00:00"}
        if pin == "9999":
            raise ServerRefused(423, "cashier_locked", "locked", {"until": "2026-11-26T15:00:00+00:00"})
        raise ServerRefused(401, "cashier_pin_wrong", "wrong", {"attempts_left": 2})

    def customer_by_phone(self, phone, timeout=None, *, token=None):
        self._call("phone", phone, token)
        if token != "tok-1":
            raise ServerRefused(403, "verification_required", "code needed", {})
        return dict(CARD, phone_masked="+380 •• ••• •• 44")


@pytest.fixture
def world(tmp_path):
    store = LocalStore(tmp_path / "till.db")
    server = Server()
    yield Backend(store, server), server
    store.close()


def queued(backend) -> list[dict]:
    return [dict(op, payload=json.loads(op["payload"]) if isinstance(op["payload"], str) else op["payload"])
            for op in backend.store.pending()]


def type_in(flow, keys):
    for key in keys:
        flow.press(key)


def test_the_preview_is_frozen_and_confirm_books_exactly_it(world):
    backend, server = world
    sale = SaleFlow(backend, CARD, cashier="7")
    assert sale.preview() is SaleState.AMOUNT and sale.error == "bad_amount"
    type_in(sale, "250")
    assert sale.preview() is SaleState.PREVIEW
    assert (sale.amount, sale.to_pay, sale.accrual, sale.max_bonus_payment) == (25000, 25000, 2500, 12500)
    type_in(sale, "0")  # a stray tap on the (hidden) numpad
    sale.press("back")
    assert sale.amount == 25000 and sale.entry.text == "250"
    assert sale.confirm() is SaleState.DONE
    [op] = queued(backend)
    assert op["type"] == "sale" and op["payload"] == {"card_number": "10001", "amount": 25000}
    assert op["cashier"] == "7"


def test_back_from_the_preview_is_the_only_way_to_change_the_amount(world):
    backend, _server = world
    sale = SaleFlow(backend, CARD, cashier="7")
    type_in(sale, "250")
    sale.preview()
    sale.back()
    assert sale.state is SaleState.AMOUNT and sale.receipt is None
    type_in(sale, "0")
    sale.preview()
    assert sale.amount == 250000


def test_bonuses_to_spend_capped_by_the_server_then_the_code_then_one_sale(world):
    backend, server = world
    server.code_purpose = "redeem"
    sale = SaleFlow(backend, CARD, cashier="7")
    type_in(sale, "250")
    sale.preview()
    assert sale.choose_bonus() is SaleState.BONUS
    assert sale.bonus_entry.minor == 12500  # the whole cap offered
    type_in(sale, "200")  # the first digit replaces the offer
    assert sale.bonus_entry.minor == 20000
    assert sale.apply_bonus() is SaleState.BONUS and sale.error == "bonus_payment_over_max"
    sale.use_max()
    sale.press("back")
    type_in(sale, "0")  # 125.0
    for key in ["back", "back", "back", "back"]:
        sale.press(key)
    type_in(sale, "10")
    assert sale.apply_bonus() is SaleState.PREVIEW, sale.error
    assert (sale.bonus_payment, sale.to_pay, sale.accrual) == (1000, 24000, 2400)
    assert sale.confirm() is SaleState.CODE
    assert server.calls[-1] == ("otp", None, "redeem", "10001", 1000)  # the code names discount + bonuses
    type_in(sale, "000000")
    assert sale.submit_code() is SaleState.CODE and sale.error == "wrong_code"
    type_in(sale, "123456")
    assert sale.submit_code() is SaleState.DONE
    [op] = queued(backend)
    assert op["payload"] == {"card_number": "10001", "amount": 25000, "bonus_payment": 1000}
    assert op["verification_token"] == "tok-1" and op["cashier"] == "7"


def test_without_bonuses_again_and_back_from_the_code_keeps_the_receipt(world):
    backend, server = world
    server.code_purpose = "redeem"
    sale = SaleFlow(backend, CARD)
    type_in(sale, "100")
    sale.preview()
    sale.choose_bonus()
    sale.apply_bonus()
    assert sale.bonus_payment == 5000
    sale.confirm()
    sale.back()
    assert sale.state is SaleState.PREVIEW and sale.bonus_payment == 5000
    assert sale.no_bonus() is SaleState.PREVIEW and sale.bonus_payment == 0
    assert sale.confirm() is SaleState.DONE


def test_offline_the_receipt_has_no_bonus_payment_and_says_the_server_calculates_the_bonus(world):
    backend, server = world
    server.down = True
    card = dict(CARD, kind="discount", discount_percent=5)
    sale = SaleFlow(backend, card, cashier="7")
    type_in(sale, "200")
    assert sale.preview() is SaleState.PREVIEW
    assert (sale.discount, sale.to_pay, sale.accrual, sale.offline) == (1000, 19000, None, True)
    assert sale.choose_bonus() is SaleState.PREVIEW and sale.error == "bonus_payment_needs_server"
    assert sale.confirm() is SaleState.DONE
    assert queued(backend)[0]["payload"] == {"card_number": "10001", "amount": 20000}


def test_a_server_refusal_of_the_preview_stays_on_the_amount(world):
    backend, server = world
    server.receipt_preview = lambda *a: (_ for _ in ()).throw(ServerRefused(403, "card_blocked", "", {}))
    sale = SaleFlow(backend, CARD)
    type_in(sale, "5")
    assert sale.preview() is SaleState.AMOUNT and sale.error == "card_blocked"
    assert not queued(backend)


SALE = {"operation_id": "op-1", "receipt_no": "A-17", "at": "2026-11-20T10:00:00+00:00", "card_number": "10001",
        "amount": 25000, "discount": 0, "bonus_payment": 1000, "to_pay": 24000, "accrued": 2400,
        "returned_amount": 10000, "returnable_amount": 15000, "cancellable": False, "device_name": "Till A",
        "cashier_name": "Olena"}


def test_a_return_picks_from_the_servers_list_and_gives_bonuses_back_pro_rata(world):
    backend, server = world
    server.sales = [SALE, dict(SALE, operation_id="op-2", receipt_no="A-18", returnable_amount=0, cancellable=True)]
    flow = ReturnFlow(backend, CARD, cashier="7", wait=0.05)
    assert flow.load() and [s["operation_id"] for s in flow.options] == ["op-1"]
    assert flow.pick(0) is ReturnState.AMOUNT and flow.amount == 15000
    assert (flow.refund(), flow.money_back()) == (600, 14400)  # the rest of the sale: 10 of 25 were returned
    flow.entry.set_minor(20000)
    assert flow.confirm() is ReturnState.AMOUNT and flow.error == "return_too_large"
    flow.entry.set_minor(5000)
    assert (flow.refund(), flow.money_back()) == (200, 4800)
    assert flow.confirm() is ReturnState.DONE
    [op] = queued(backend)
    assert op["payload"] == {"sale_id": "op-1", "amount": 5000, "card_number": "10001"} and op["cashier"] == "7"
    assert flow.outcome.status == "queued"  # no sync here: the server's verdict has not come


def test_a_return_by_the_receipt_typed_or_scanned(world):
    backend, server = world
    server.sales = [SALE, dict(SALE, operation_id="op-9", receipt_no="B-1", card_number="10002")]
    flow = ReturnFlow(backend, CARD, wait=0.05)
    flow.load()
    assert flow.type_receipt() is ReturnState.RECEIPT
    type_in(flow, "17")
    assert flow.confirm() is ReturnState.RECEIPT and flow.error == "sale_not_found"
    assert flow.submit_receipt("lk://receipt/op-9") is ReturnState.RECEIPT
    assert flow.error == "receipt_of_another_card"
    assert flow.submit_receipt("lk://receipt/op-1") is ReturnState.AMOUNT and flow.sale["receipt_no"] == "A-17"
    assert server.calls[-1] == ("sale", "op-1")


def test_a_return_with_a_code_when_the_shop_wants_one(world):
    backend, server = world
    backend.store.set_setting("shop_config", {"code_required": {"return": True}})
    server.sales = [SALE]
    flow = ReturnFlow(backend, CARD, wait=0.05)
    flow.load()
    flow.pick(0)
    assert flow.confirm() is ReturnState.CODE
    assert server.calls[-1] == ("otp", None, "return", "10001", 600)
    type_in(flow, "123456")
    assert flow.submit_code() is ReturnState.DONE
    assert queued(backend)[0]["verification_token"] == "tok-1"


def test_offline_a_return_or_cancel_says_it_needs_the_server_and_does_nothing(world):
    backend, server = world
    server.sales = [SALE]
    server.down = True
    for flow in (ReturnFlow(backend, CARD, wait=0.05), CancelFlow(backend, CARD, wait=0.05)):
        assert not flow.load() and flow.error == "needs_server" and flow.options == []
        flow.type_receipt()
        type_in(flow, "17")
        flow.confirm()
        assert flow.state.value == "receipt" and flow.error == "needs_server"
    assert not queued(backend)


def test_a_cancel_offers_only_what_the_server_says_can_be_cancelled(world):
    backend, server = world
    server.sales = [SALE, dict(SALE, operation_id="op-2", receipt_no="A-18", cancellable=True)]
    flow = CancelFlow(backend, CARD, cashier="7", wait=0.05)
    flow.load()
    assert [s["operation_id"] for s in flow.options] == ["op-2"]
    assert flow.submit_receipt("A-17") is CancelState.PICK and flow.error == "sale_not_cancellable"
    assert flow.pick(0) is CancelState.CONFIRM
    assert flow.confirm() is CancelState.QUEUED
    [op] = queued(backend)
    assert op["type"] == "cancel" and op["payload"]["operation_id"] == "op-2" and op["cashier"] == "7"


def test_sign_in_with_a_pin_or_a_badge(world):
    backend, server = world
    flow = SignInFlow(backend)
    type_in(flow, "12")
    assert flow.submit() is None and flow.error == "bad_pin"
    type_in(flow, "1234")
    assert flow.submit() is None and (flow.error, flow.attempts_left) == ("cashier_pin_wrong", 2)
    assert flow.entry.text == ""  # never left on the screen
    type_in(flow, "9999")
    assert flow.submit() is None and flow.error == "cashier_locked" and flow.locked_until is not None
    type_in(flow, "4711")
    session = flow.submit()
    assert (session.cashier_id, session.name) == ("7", "Olena")
    assert not session.expired(datetime(2026, 11, 26, 21, 0, tzinfo=UTC))
    assert session.expired(datetime(2026, 11, 26, 22, 0, tzinfo=UTC) + timedelta(seconds=1))
    assert SignInFlow(backend).badge(" STAFF-7\n").name == "Olena"
    answers = iter([BadResponse("server error HTTP 500"), {"cashier_id": "8", "name": "Petro"}])

    def busy_then_fine(**_credentials):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer
    backend.client.cashier_login = busy_then_fine  # a server error once: tried again, not "server away"
    retried = SignInFlow(backend)
    type_in(retried, "5555")
    assert retried.submit().name == "Petro" and retried.session.expires_at is None
    del backend.client.cashier_login
    server.down = True
    offline = SignInFlow(backend)
    type_in(offline, "4711")
    assert offline.submit() is None and offline.error == "signin_needs_server"


def test_a_phone_look_up_needs_the_customers_code_when_the_shop_says_so(world):
    backend, server = world
    flow = IdentifyFlow(backend)
    flow.start_typing("phone", role="cashier")
    type_in(flow, "0671112244")
    # /config does not say: the till asks, and the server's refusal brings the code
    assert flow.submit_typed() is IdentifyState.CODE and flow.error is None
    assert server.calls[-2:] == [("phone", "+380671112244", None), ("otp", "+380671112244", "identify", None, None)]
    type_in(flow, "123456")
    assert flow.submit_code() is IdentifyState.CARD and flow.card["number"] == "10001"
    assert server.calls[-1] == ("phone", "+380671112244", "tok-1")

    backend.store.set_setting("shop_config", {"identify_code_required": True})
    flow = IdentifyFlow(backend)
    flow.start_typing("phone", role="cashier")
    type_in(flow, "0671112244")
    server.calls.clear()
    assert flow.submit_typed() is IdentifyState.CODE
    assert [c[0] for c in server.calls] == ["otp"]  # straight to the code: no look-up without it
    type_in(flow, "000000")
    assert flow.submit_code() is IdentifyState.CODE and flow.error == "wrong_code"


def test_a_receipt_qr_at_the_tills_home_opens_its_return(world):
    from kiosk.flows.return_ import open_receipt

    backend, server = world
    server.card = lambda number, timeout=None: dict(CARD)
    backend.client.card = server.card
    server.sales = [SALE, dict(SALE, operation_id="op-2", receipt_no="A-18", returnable_amount=0)]
    identify = IdentifyFlow(backend)
    flow, error = open_receipt(backend, identify, "lk://receipt/op-1", cashier="7")
    assert error is None and flow.state is ReturnState.AMOUNT and flow.amount == 15000 and flow.cashier == "7"
    assert identify.card["number"] == "10001"
    assert open_receipt(backend, identify, "lk://receipt/op-2") == (None, "sale_not_returnable")
    assert open_receipt(backend, identify, "lk://receipt/nope") == (None, "sale_not_found")
    server.down = True
    assert open_receipt(backend, identify, "lk://receipt/op-1") == (None, "needs_server")
    assert not queued(backend)
