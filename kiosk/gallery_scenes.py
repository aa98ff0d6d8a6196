"""The states each screen is drawn in for the gallery: the common case, and the longest texts it can show."""

from __future__ import annotations

import time
from collections.abc import Callable

from .backend import CardView
from .flows.cancel import CancelFlow, CancelState
from .flows.code import CodeStep
from .flows.find_card import FindCardFlow, FindState
from .flows.identify import IdentifyState
from .flows.outcome import Outcome
from .flows.redeem import RedeemFlow, RedeemState
from .flows.register import RegisterFlow, RegisterState
from .flows.return_ import ReturnFlow, ReturnState
from .flows.sale import SaleFlow, SaleState
from .flows.technician import PinChange, PinLock, TechnicianFlow
from .messages import message, till_sync_hint
from .store import SYNC_LAST_ERROR, SYNC_LAST_ERROR_AT

QUESTIONS = [{"key": "city", "label": {"en": "Which shop is nearest to you?", "uk": "Який магазин найближчий?"},
              "type": "choice", "choices": ["Kyiv, Khreshchatyk 1", "Lviv, Rynok 5", "Odesa, Derybasivska 10"]},
             {"key": "birthday", "label": "Birthday (for a gift)", "type": "date", "required": True}]

HISTORY = [{"kind": "accrual", "amount": 1250, "at": "2026-11-20T10:00:00"},
           {"kind": "redemption", "amount": -5000, "at": "2026-11-18T17:30:00"},
           {"kind": "return_take", "amount": -300, "at": "2026-11-15T12:10:00"},
           {"kind": "accrual", "amount": 870, "at": "2026-11-11T09:45:00"},
           {"kind": "accrual", "amount": 15000, "at": "2026-11-02T19:05:00"}]


ACCRUED = [HISTORY[0], HISTORY[3]]  # an issued card only earns: spending needs a code to the card's phone


def card(state: str = "active", *, kind: str = "bonus", from_cache: bool = False, pending: bool = False,
         history: list[dict] | None = None) -> CardView:
    return CardView({"number": "10001", "state": state, "kind": kind, "discount_percent": 5 if kind == "discount"
                     else 0, "digital": False, "phone_masked": "+380 •• ••• •• 67" if state == "active" else None,
                     "balance": 1234567, "activation_pending": pending,
                     "activation_requested_at": "2026-11-23T10:00:00+00:00" if pending else None,
                     "history": history if history is not None else HISTORY if state == "active" else []},
                    from_cache, time.time() - 3600)


def _show_card(view: CardView, role: str = "cashier", sync: tuple[int, int] = (0, 0)) -> Callable:
    def setup(app) -> str:
        app.role = role
        app.till_sync_hint = till_sync_hint(*sync)
        app.identify.view, app.identify.state = view, IdentifyState.CARD
        return "card"
    return setup


def _own_card(notice: str | None = None, link: str | None = None) -> Callable:
    """The card its owner found with an SMS code: balance, history and its QR."""
    def setup(app) -> str:
        app.role = "entrance"
        view = card()
        view = CardView({**view.card, "card_link": link}, False, time.time(), own=True)
        app.identify.show_own(view, notice)
        return "card"
    return setup


def _find(state: FindState, digits: str = "", code: str = "", error: str | None = None,
          attempts: int | None = None) -> Callable:
    def setup(app) -> str:
        app.role = "entrance"
        flow = FindCardFlow(app.backend, digits)
        flow.state, flow.phone, flow.error, flow.attempts_left = state, "+380671234567", error, attempts
        flow.code_entry.text = code
        app.find = flow
        return "find_code" if state is FindState.CODE else "find_phone"
    return setup


def _idle_countdown(app) -> str:
    """A customer who walked away from the code screen: the last seconds are counted down over it."""
    _find(FindState.CODE, code="12")(app)
    app.show("find_code")
    app._last_activity = time.monotonic() - (app.idle.limit("find_code") - 9)
    app._tick(0)
    return "find_code"


def _sales(app) -> None:
    """Two sales of this till in the local outbox, for the return and cancel pickers."""
    store = app.backend.store
    if not store.get_setting("gallery_sales"):
        for amount in (125000, 4550):
            store.enqueue("sale", {"card_number": "10001", "amount": amount})
        store.set_setting("gallery_sales", True)


def _till(kind, *, keys: str = "", state=None, error: str | None = None, view: CardView | None = None,
          **fields) -> Callable:
    def setup(app) -> str:
        _sales(app)
        app.role = "cashier"
        app.identify.view = view or card()
        flow = kind(app.backend, app.identify.view.card)
        for key in keys:
            flow.press(key)
        if isinstance(flow, SaleFlow) and state is SaleState.PREVIEW:
            flow.preview()
        elif state is not None:
            flow.state = state
        if state is not None and state.value == "code":
            flow.code = CodeStep(app.backend, purpose="redeem", card_number="10001", amount=flow.amount)
            flow.code.entry.text, flow.code.attempts_left = "12", 3
        for key, value in fields.items():
            setattr(flow, key, value)
        flow.error = error
        app.till = flow
        return app.till_screen()
    return setup


def _cancel(state: CancelState, error: str | None = None) -> Callable:
    def setup(app) -> str:
        _sales(app)
        app.role = "cashier"
        app.identify.view = card()
        flow = CancelFlow(app.backend, app.identify.view.card)
        flow.pick(0)
        flow.state, flow.error = state, error
        app.till = flow
        return app.till_screen()
    return setup


def _questions(index: int, typed: str = "", error: str | None = None) -> Callable:
    def setup(app) -> str:
        flow = RegisterFlow(app.backend, questionnaire=QUESTIONS)
        flow.state, flow.phone = RegisterState.QUESTIONS, "+380501234567"
        flow.questions.index, flow.questions.typed, flow.questions.error = index, typed, error
        app.register = flow
        return "register_questions"
    return setup


def _tech(screen: str, *, error: str | None = None) -> Callable:
    def setup(app) -> str:
        store = app.backend.store
        if not store.failed():
            op_id = store.enqueue("redeem", {"card_number": "10001", "amount": 5000})
            store.mark_failed(op_id, "insufficient_balance: not enough bonuses on the card")
            store.set_settings({SYNC_LAST_ERROR: "store server unreachable: ConnectionError",
                                SYNC_LAST_ERROR_AT: time.time() - 120})
        app.pin = PinLock(store)
        app.pin.entry.text, app.pin.error = "12", error if screen == "tech_pin" else None
        app.tech = TechnicianFlow(app.backend, state_dir=app.kiosk_config.state_dir, role="cashier")
        app.tech.self_test.scanned("4820000123457")
        app.tech.self_test.confirm("leds")
        app.tech.self_test.touch(0, 0)
        app.tech.self_test.touch(2, 1)
        app.tech.error = error if screen != "tech_pin" else None
        return screen
    return setup


def _new_pin(*, forced: bool, typed: str = "", error: str | None = None) -> Callable:
    def setup(app) -> str:
        app.pin_change = PinChange(PinLock(app.backend.store), forced=forced)
        app.pin_change.entry.text, app.pin_change.error = typed, error
        return "tech_new_pin"
    return setup


def _attract(role: str, notice: str | None = None) -> Callable:
    def setup(app) -> str:
        app.role = role
        app.sm.get_screen("attract").notice = message(notice)
        return "attract"
    return setup


def _typed(by: str, role: str, keys: str, error: str | None = None) -> Callable:
    def setup(app) -> str:
        app.role = role
        app.identify.start_typing(by, role=role)
        for key in keys:
            app.identify.press(key)
        app.identify.error = error
        return "identify_typed"
    return setup


def _register(state: RegisterState, **fields) -> Callable:
    def setup(app) -> str:
        flow = RegisterFlow(app.backend)
        flow.state = state
        for key, value in fields.items():
            setattr(flow, key, value)
        app.register = flow
        return {RegisterState.PHONE: "register_phone", RegisterState.CODE: "register_code",
                RegisterState.DONE: "register_done"}[state]
    return setup


def scenes() -> list[tuple[str, Callable]]:
    return [
        ("attract", _attract("cashier")),
        ("attract-notice", _attract("entrance", "server_unreachable")),
        ("find-phone", _find(FindState.PHONE, "067123")),
        ("find-phone-error", _find(FindState.PHONE, "+38067123456789", error="invalid_phone")),
        ("find-code", _find(FindState.CODE, code="123", error="wrong_code", attempts=2)),
        ("card-own", _own_card()),
        ("idle-countdown", _idle_countdown),
        ("card-own-joined", _own_card("already_have_card", "http://192.168.1.10:8700/c/Ab3dEf6hIj9kLm2nOp5qRs8tUv")),
        ("identify-card-number", _typed("card", "entrance", "48200001234579", "card_not_found")),
        ("identify-phone", _typed("phone", "cashier", "+380671112244", "customer_not_found")),
        ("card", _show_card(card(), "entrance")),
        ("card-discount-offline", _show_card(card(kind="discount", from_cache=True), "entrance")),
        ("card-not-activated", _show_card(card("issued"), "entrance")),
        ("card-cashier", _show_card(card(), sync=(3, 1))),
        ("card-cashier-not-activated", _show_card(card("issued"))),
        # a pre-issued card accrues (only) while its activation waits: the notice shares the screen with a history
        ("card-activation-pending", _show_card(card("issued", pending=True, history=ACCRUED), "entrance")),
        ("card-cashier-activation-pending", _show_card(card("issued", pending=True, history=ACCRUED))),
        ("till-sale-amount", _till(SaleFlow, keys="1250.5")),
        ("till-sale-preview", _till(SaleFlow, keys="1250.5", state=SaleState.PREVIEW,
                                    view=card(kind="discount"))),
        ("till-sale-done", _till(SaleFlow, keys="1250.5", state=SaleState.DONE)),
        # the same screens once the sync has the server's answer
        ("till-sale-settled", _till(SaleFlow, keys="1250.5", state=SaleState.DONE, outcome=Outcome(
            "done", result={"accrued": 12505, "discount": 0, "redeemed": 0, "paid": 125050, "balance": 1247072}))),
        ("till-return-settled", _till(ReturnFlow, keys="1250", state=ReturnState.DONE, outcome=Outcome(
            "done", result={"returned": 125000, "money_refund": 118000, "bonuses_taken": 5500, "shortfall": 7000,
                            "balance": 0}))),
        ("till-redeem-refused", _till(RedeemFlow, keys="100", state=RedeemState.DONE,
                                      outcome=Outcome("refused", "insufficient_balance"))),
        ("till-redeem-error", _till(RedeemFlow, keys="99999", error="insufficient_balance")),
        ("till-redeem-code", _till(RedeemFlow, keys="100", state=RedeemState.CODE, error="wrong_code")),
        ("till-return-pick", _till(ReturnFlow)),
        ("till-cancel-confirm", _cancel(CancelState.CONFIRM)),
        ("till-cancel-refused", _cancel(CancelState.REFUSED, "bonuses_already_spent")),
        ("till-cancel-queued", _cancel(CancelState.QUEUED)),
        ("register-questions-choice", _questions(0, "Lviv, Rynok 5")),
        ("register-questions-date", _questions(1, "1990-05", "bad_date")),
        ("tech-pin", _tech("tech_pin", error="wrong_pin")),
        ("tech-menu", _tech("tech_menu", error="server_unreachable")),
        ("tech-enrol", _tech("tech_enrol", error="enrolment_token_expired")),
        ("tech-failed", _tech("tech_failed")),
        ("tech-log", _tech("tech_log")),
        ("tech-selftest", _tech("tech_selftest")),
        ("tech-reset", _tech("tech_reset")),
        ("tech-new-pin-forced", _new_pin(forced=True, typed="47")),
        ("tech-new-pin-differ", _new_pin(forced=False, error="pins_differ")),
        ("register-phone", _register(RegisterState.PHONE)),
        ("register-phone-error", _register(RegisterState.PHONE, digits="+38050123456789", consent=True,
                                           marketing=True, error="consent_required")),
        ("register-code", _register(RegisterState.CODE, phone="+380501234567", code="1234",
                                    error="too_many_attempts", attempts_left=2)),
        ("register-done", _register(RegisterState.DONE, card_number="9000000001")),
        ("register-done-review", _register(RegisterState.DONE, card_number="9000000001", pending_review=True)),
        ("register-done-refused", _register(RegisterState.DONE, card_number="9000000001", error="phone_has_card",
                                            outcome=Outcome("refused", "phone_has_card"))),
        ("register-done-link", _register(RegisterState.DONE, card_number="9000000001",
                                         card_link="http://192.168.1.10:8700/c/Ab3dEf6hIj9kLm2nOp5qRs8tUv")),
    ]
