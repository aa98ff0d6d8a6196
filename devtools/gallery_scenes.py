"""The states each screen is drawn in for the gallery: the common case, and the longest texts it can show."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from kiosk.backend import CardView
from kiosk.flows.cancel import CancelFlow, CancelState
from kiosk.flows.code import CodeStep
from kiosk.flows.details import DetailsFlow, DetailsState, missing_fields
from kiosk.flows.find_card import FindCardFlow, FindState
from kiosk.flows.identify import IdentifyState
from kiosk.flows.keyboard import KeyboardFlow
from kiosk.flows.outcome import Outcome
from kiosk.flows.questionnaire import label
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.flows.return_ import ReturnFlow, ReturnState
from kiosk.flows.sale import SaleFlow, SaleState
from kiosk.flows.signin import CashierSession, SignInFlow
from kiosk.flows.technician import PinChange, PinLock, TechnicianFlow
from kiosk.messages import message, till_sync_hint
from kiosk.store import SYNC_LAST_ERROR, SYNC_LAST_ERROR_AT
from store_server.demo_terms import DEMO_TERMS

QUESTIONS = [{"key": "city", "label": {"en": "Which shop is nearest to you?", "uk": "Який магазин найближчий?"},
              "type": "choice", "choices": ["Kyiv, Khreshchatyk 1", "Lviv, Rynok 5", "Odesa, Derybasivska 10"]},
             {"key": "birthday", "label": "Birthday (for a gift)", "type": "date", "required": True, "min_age": 16},
             {"key": "name", "label": {"en": "Your name", "uk": "Ваше ім'я", "ru": "Ваше имя", "kk": "Атыңыз",
                                       "vi": "Tên của bạn"}, "type": "text"}]

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
        if role == "cashier":
            _sign_in(app)
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


CASHIER = CashierSession("7", "Olena Kovalenko-Shevchenko")


def _sign_in(app) -> None:
    app.cashier, app.cashier_name = CASHIER, CASHIER.name


# the card's sales as the server lists them for a return or a cancel (any till of the shop)
SALES = [{"operation_id": "op-1", "receipt_no": "A-000123", "at": "2026-11-24T18:42:00+00:00", "card_number": "10001",
          "amount": 125000, "discount": 0, "bonus_payment": 25000, "to_pay": 100000, "accrued": 10000,
          "returned_amount": 30000, "returnable_amount": 95000, "cancellable": False,
          "device_name": "Till 2 (upstairs)", "cashier_name": "Olena Kovalenko-Shevchenko"},
         {"operation_id": "op-2", "receipt_no": "A-000098", "at": "2026-11-20T09:05:00+00:00", "card_number": "10001",
          "amount": 4550, "discount": 0, "bonus_payment": 0, "to_pay": 4550, "accrued": 455,
          "returned_amount": 0, "returnable_amount": 4550, "cancellable": True,
          "device_name": "Till 1", "cashier_name": "Petro"}]

RECEIPT = {"amount": 125050, "discount": 6252, "bonus_payment": 30000, "max_bonus_payment": 59399,
           "to_pay": 88798, "accrued": 8879, "code_purpose": "sale", "offline": False}


def _till(kind, *, keys: str = "", state=None, error: str | None = None, view: CardView | None = None,
          receipt: dict | None = None, sales: list[dict] | None = None, pick: int | None = None,
          amount: int | None = None, **fields) -> Callable:
    def setup(app) -> str:
        app.role = "cashier"
        _sign_in(app)
        app.identify.view = view or card()
        flow = kind(app.backend, app.identify.view.card, cashier=CASHIER.cashier_id)
        if sales is not None:
            flow.sales, flow.loaded = sales, True
        if pick is not None:
            flow.pick(pick)
        for key in keys:
            flow.press(key)
        if amount is not None:
            flow.entry.set_minor(amount)
        if receipt is not None:
            flow.receipt = receipt
        if state is not None:
            flow.state = state
        if state is SaleState.BONUS:
            flow.bonus_entry.set_minor(receipt["max_bonus_payment"])
        if state is not None and state.value == "code":
            purpose = "return" if isinstance(flow, ReturnFlow) else "sale"
            flow.code = CodeStep(app.backend, purpose=purpose, card_number="10001", amount=36252)
            flow.code.entry.text, flow.code.attempts_left = "12", 3
        for key, value in fields.items():
            setattr(flow, key, value)
        flow.error = error
        app.till = flow
        return app.till_screen()
    return setup


def _signin(typed: str = "", error: str | None = None, attempts: int | None = None, locked: bool = False) -> Callable:
    def setup(app) -> str:
        app.role = "cashier"
        app.cashier, app.cashier_name = None, ""
        app.signin = SignInFlow(app.backend)
        app.signin.entry.text, app.signin.error, app.signin.attempts_left = typed, error, attempts
        if locked:
            app.signin.locked_until = datetime(2026, 11, 26, 14, 45, tzinfo=UTC)
        return "till_signin"
    return setup


def _identify_code(error: str | None = None) -> Callable:
    def setup(app) -> str:
        app.role = "cashier"
        _sign_in(app)
        app.identify.start_typing("phone", role="cashier")
        app.identify.code = CodeStep(app.backend, purpose="identify", phone="+380671112244")
        app.identify.code.entry.text = "4711"
        app.identify.state, app.identify.error = IdentifyState.CODE, error
        return "identify_code"
    return setup


def _questions(index: int, typed: str = "", error: str | None = None) -> Callable:
    def setup(app) -> str:
        flow = RegisterFlow(app.backend, questionnaire=QUESTIONS)
        flow.state, flow.phone = RegisterState.QUESTIONS, "+380501234567"
        flow.questions.index, flow.questions.typed, flow.questions.error = index, typed, error
        app.register = flow
        return "register_questions"
    return setup


def _birthday(day: str = "", month: int | None = None, year: str = "", part: str | None = None, *,
              submit: bool = False) -> Callable:
    """The birthday question on its picker: the part being filled, and Next tapped when the date is complete
    (the picker's own message for a date that cannot be: 31 February, too young)."""
    def setup(app) -> str:
        _questions(1)(app)
        questions = app.register.questions
        picker = questions.date
        picker.day, picker.month, picker.year = day, month, year
        if part:
            picker.select(part)
        if picker.complete or submit:
            questions.answer()
        return "register_questions"
    return setup


def _keyboard(text: str, *, start: str | None = None, page: int = 0, shift: bool = False) -> Callable:
    """The on-screen keyboard over a text question: the alphabet of the screen's language first."""
    def setup(app) -> str:
        app.role = "entrance"
        _questions(2)(app)
        prompt = label(QUESTIONS[2], app.lang)
        app.keyboard = KeyboardFlow(prompt, [app.lang, *app.languages], app.register.questions.type_text,
                                    text=text, start=start)
        app.keyboard.page, app.keyboard.shift = page, shift
        app._keyboard_return = "register_questions"
        return "keyboard"
    return setup


def _language_picker(app) -> str:
    """The language button's picker, over the phone screen."""
    app.role = "entrance"
    _register(RegisterState.PHONE, digits="0501234")(app)
    app.show("register_phone")
    app.choose_language()
    return "register_phone"


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
        if role == "cashier":
            _sign_in(app)
        app.sm.get_screen("attract").notice = message(notice)
        return "attract"
    return setup


def _typed(by: str, role: str, keys: str, error: str | None = None) -> Callable:
    def setup(app) -> str:
        app.role = role
        if role == "cashier":
            _sign_in(app)
        app.identify.start_typing(by, role=role)
        for key in keys:
            app.identify.press(key)
        app.identify.error = error
        return "identify_typed"
    return setup


def _register(state: RegisterState, *, terms: dict | None = None, **fields) -> Callable:
    def setup(app) -> str:
        store = app.backend.store
        store.set_setting("shop_config", {**(store.get_setting("shop_config", {}) or {}), "terms": terms or {}})
        flow = RegisterFlow(app.backend)
        flow.state = state
        for key, value in fields.items():
            setattr(flow, key, value)
        app.register = flow
        return {RegisterState.PHONE: "register_phone", RegisterState.CODE: "register_code",
                RegisterState.DONE: "register_done", RegisterState.TERMS: "register_terms"}[state]
    return setup


def _details(state: DetailsState | None, *, role: str = "entrance", index: int = 0, code: str = "",
             error: str | None = None, outcome: Outcome | None = None) -> Callable:
    """Answers added from the card screen: the card with an open question (None), the questions, the code to
    the card's phone, the thank-you."""
    def setup(app) -> str:
        store = app.backend.store
        store.set_setting("shop_config", {**(store.get_setting("shop_config", {}) or {}), "questionnaire": QUESTIONS})
        app.role = role
        if role == "cashier":
            _sign_in(app)
        view = card()
        view.card["answered"] = ["city"]
        app.identify.view, app.identify.state = view, IdentifyState.CARD
        if state is None:
            return "card"
        flow = DetailsFlow(app.backend, "10001", missing_fields(QUESTIONS, view.card))
        flow.state, flow.error, flow.outcome = state, error, outcome
        flow.questions.index = index
        if state is DetailsState.QUESTIONS:  # the question screen shows the questionnaire's error
            flow.error, flow.questions.error = None, error
        if state is DetailsState.CODE:
            flow.code = CodeStep(app.backend, purpose="identify", card_number="10001")
            flow.code.challenge = {"challenge_id": "x", "phone_masked": "+380 •• ••• •• 67"}
            flow.code.entry.text, flow.code.attempts_left = code, 2 if error else None
        app.details = flow
        return {DetailsState.QUESTIONS: "details_questions", DetailsState.CODE: "details_code",
                DetailsState.DONE: "details_done"}[state]
    return setup


def _fresh(setup: Callable) -> Callable:
    """Nobody signed in unless the scene signs someone in: an entrance screen shows no cashier."""
    def fresh(app) -> str:
        app.cashier, app.cashier_name = None, ""
        return setup(app)
    return fresh


def scenes() -> list[tuple[str, Callable]]:
    return [(name, _fresh(setup)) for name, setup in _scenes()]


def _scenes() -> list[tuple[str, Callable]]:
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
        ("till-signin", _signin("12")),
        ("till-signin-wrong", _signin(error="cashier_pin_wrong", attempts=2)),
        ("till-signin-locked", _signin(error="cashier_locked", locked=True)),
        ("till-signin-offline", _signin(error="signin_needs_server")),
        ("identify-code", _identify_code("wrong_code")),
        ("till-sale-amount", _till(SaleFlow, keys="1250.5")),
        # the whole receipt, frozen: discount, bonuses spent, to pay, bonus earned
        ("till-sale-preview", _till(SaleFlow, state=SaleState.PREVIEW, receipt=RECEIPT, view=card(kind="discount"))),
        ("till-sale-preview-offline", _till(SaleFlow, state=SaleState.PREVIEW, view=card(kind="discount"),
                                            receipt={**RECEIPT, "bonus_payment": 0, "max_bonus_payment": 0,
                                                     "to_pay": 118798, "accrued": None, "offline": True},
                                            error="bonus_payment_needs_server")),
        ("till-sale-bonus", _till(SaleFlow, state=SaleState.BONUS, receipt=RECEIPT,
                                  error="bonus_payment_over_max")),
        ("till-sale-code", _till(SaleFlow, state=SaleState.CODE, receipt=RECEIPT, error="wrong_code")),
        ("till-sale-done", _till(SaleFlow, state=SaleState.DONE, receipt=RECEIPT)),
        # the same screen once the sync has the server's answer
        ("till-sale-settled", _till(SaleFlow, state=SaleState.DONE, receipt=RECEIPT, outcome=Outcome(
            "done", result={"amount": 125050, "discount": 6252, "bonus_payment": 30000, "to_pay": 88798,
                            "accrued": 8879, "balance": 1213446}))),
        ("till-sale-refused", _till(SaleFlow, state=SaleState.DONE, receipt=RECEIPT,
                                    outcome=Outcome("refused", "bonus_payment_over_cap"))),
        ("till-return-pick", _till(ReturnFlow, sales=SALES)),
        ("till-return-pick-offline", _till(ReturnFlow, sales=[], error="needs_server")),
        ("till-return-receipt", _till(ReturnFlow, sales=[], state=ReturnState.RECEIPT, error="sale_not_found",
                                      keys="000123")),
        ("till-return-amount", _till(ReturnFlow, sales=SALES, pick=0, amount=30000)),
        ("till-return-settled", _till(ReturnFlow, sales=SALES, pick=0, state=ReturnState.DONE, outcome=Outcome(
            "done", result={"returned": 95000, "money_refund": 69000, "bonuses_taken": 7600,
                            "bonus_payment_refunded": 19000, "shortfall": 7000, "balance": 0}))),
        ("till-return-queued", _till(ReturnFlow, sales=SALES, pick=0, state=ReturnState.DONE,
                                     outcome=Outcome("queued"))),
        ("till-cancel-pick", _till(CancelFlow, sales=SALES[1:])),
        ("till-cancel-confirm", _till(CancelFlow, sales=SALES[1:], pick=0)),
        ("till-cancel-refused", _till(CancelFlow, sales=SALES[1:], pick=0, state=CancelState.REFUSED,
                                      error="bonuses_already_spent")),
        ("card-add-details", _details(None)),
        ("card-cashier-add-details", _details(None, role="cashier")),
        ("details-questions-date", _details(DetailsState.QUESTIONS)),
        ("details-questions-none-answered", _details(DetailsState.QUESTIONS, index=1, error="no_answers")),
        ("details-code", _details(DetailsState.CODE, code="12", error="wrong_code")),
        ("details-code-till", _details(DetailsState.CODE, role="cashier", code="1234")),
        ("details-done", _details(DetailsState.DONE, outcome=Outcome("done", result={"card_number": "10001"}))),
        ("details-done-queued", _details(DetailsState.DONE, outcome=Outcome("queued"))),
        ("details-done-refused", _details(DetailsState.DONE, outcome=Outcome("refused", "verification_used"))),
        ("register-questions-choice", _questions(0, "Lviv, Rynok 5")),
        ("register-questions-date", _birthday()),
        ("register-questions-date-month", _birthday("14", part="month")),
        ("register-questions-date-year", _birthday("14", 9, "19", part="year")),
        ("register-questions-date-impossible", _birthday("31", 2, "1990")),
        ("register-questions-date-too-young", _birthday("30", 12, "2020")),
        ("register-questions-date-year-short", _birthday("14", 9, "90", submit=True)),
        ("register-questions-text", _questions(2)),
        ("register-questions-text-typed", _questions(2, "Olena")),
        ("keyboard", _keyboard("Оле", shift=False)),
        ("keyboard-second-page", _keyboard("", page=1, shift=True)),
        ("keyboard-vietnamese", _keyboard("Nguyễn Việt", start="vi")),
        ("keyboard-digits", _keyboard("https://shop.example:8700", start="digits")),
        ("language-picker", _language_picker),
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
        ("register-phone-accepted", _register(RegisterState.PHONE, digits="0501234567", consent=True)),
        # at the till the customer's code is the consent: no toggle for the cashier to tap
        ("register-phone-till", _register(RegisterState.PHONE, digits="0501234567", at_till=True)),
        ("register-terms", _register(RegisterState.TERMS, terms=DEMO_TERMS)),
        ("register-terms-none", _register(RegisterState.TERMS)),
        ("register-phone-error", _register(RegisterState.PHONE, digits="+38050123456789", consent=True,
                                           marketing=True, error="consent_required")),
        ("register-code", _register(RegisterState.CODE, phone="+380501234567", code="1234",
                                    error="too_many_attempts", attempts_left=2)),
        ("register-code-till", _register(RegisterState.CODE, phone="+380501234567", code="12", at_till=True)),
        ("register-done", _register(RegisterState.DONE, card_number="9000000001")),
        ("register-done-review", _register(RegisterState.DONE, card_number="9000000001", pending_review=True)),
        ("register-done-refused", _register(RegisterState.DONE, card_number="9000000001", error="phone_has_card",
                                            outcome=Outcome("refused", "phone_has_card"))),
        ("register-done-link", _register(RegisterState.DONE, card_number="9000000001",
                                         card_link="http://192.168.1.10:8700/c/Ab3dEf6hIj9kLm2nOp5qRs8tUv")),
    ]
