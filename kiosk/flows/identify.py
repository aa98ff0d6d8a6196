"""Identify a customer from a scan or a number typed on the numpad: show the card, or say clearly why not.

Anyone may type a card number (it is printed on the card, like scanning it). Only the till may type a phone
number: at the entrance that would show any stranger's balance to whoever knows their phone. And when the
shop wants it (`identify_code_required`, on by default) the till finds a card by phone only with the code
the server sends to that phone, which the customer reads out: a cashier typing their own phone to collect a
stranger's bonuses gets nothing.
"""

from __future__ import annotations

from enum import Enum

from drivers.scanner.base import Scan
from drivers.scanner.decode import CardNumber, DigitalCardToken, EnrolmentCode, decode
from loyalty_common.cards import CardRules, read_number
from loyalty_common.phones import e164_or_none

from .. import card_formats
from ..backend import Backend, CardView
from ..client import BadResponse, ServerRefused, ServerUnreachable
from .cashier import shop_config
from .code import CodeStep
from .entry import DigitEntry

MAX_CARD_DIGITS = 20  # EAN-13 and the shop's own shorter numbers; a longer string is a slip
MAX_PHONE_DIGITS = 16  # E.164 and its '+'


class IdentifyState(Enum):
    IDLE = "idle"
    CARD = "card"  # card shown (maybe from cache, see `view.from_cache`)
    NOT_OURS = "not_ours"  # the scan is not one of our cards
    NOT_FOUND = "not_found"  # looks like a card, the server does not know it
    OFFLINE = "offline"  # server unreachable and card not cached
    ENROLMENT = "enrolment"  # a technician's enrolment QR
    CODE = "code"  # a phone typed at the till: the customer's code is needed to look it up
    ERROR = "error"


class IdentifyFlow:
    def __init__(self, backend: Backend, rules: CardRules | None = None) -> None:
        self.backend = backend
        self.own_rules = rules or CardRules()  # [cards] in kiosk.toml: the fallback (kiosk/card_formats.py)
        self.reset()

    @property
    def rules(self) -> CardRules:
        """The shop's card_rules from its /config when it sent them, else kiosk.toml's [cards]."""
        return card_formats.effective(shop_config(self.backend), self.own_rules)[0]

    def reset(self) -> None:
        self._clear()
        self.typing: str | None = None  # "card" or "phone" while a number is typed on the numpad
        self.entry = DigitEntry(MAX_CARD_DIGITS)
        self.code: CodeStep | None = None  # the customer's `identify` code for a look-up by phone

    def _clear(self) -> None:
        self.state = IdentifyState.IDLE
        self.view: CardView | None = None
        self.error: str | None = None
        self.enrolment: EnrolmentCode | None = None
        self.notice: str | None = None  # a messages.py code the card screen shows above the balance

    # typed on the numpad ------------------------------------------------------------------------
    def start_typing(self, by: str = "card", *, role: str = "entrance") -> None:
        if by not in ("card", "phone"):
            raise ValueError(f"cannot identify by {by!r}")
        if by == "phone" and role != "cashier":
            raise PermissionError("only the till looks customers up by phone")
        self.reset()
        self.typing = by
        self.entry = DigitEntry(MAX_PHONE_DIGITS if by == "phone" else MAX_CARD_DIGITS)

    @property
    def typed(self) -> str:
        return self.entry.text

    def press(self, key: str) -> None:
        """'0'-'9', 'back', 'clear'; '+' starts an international phone number."""
        self.error = None
        if self.state is IdentifyState.CODE and self.code is not None:
            self.code.press(key)
        elif key == "+" and self.typing == "phone" and not self.entry.text:
            self.entry.text = "+"
        else:
            self.entry.press(key)

    def submit_typed(self) -> IdentifyState:
        text = self.entry.text
        if not text.strip("+"):
            self.error = "number_missing"
            return self.state
        if self.typing == "phone":
            phone = self._normalised(text)
            if phone is None:
                self.state, self.error = IdentifyState.ERROR, "invalid_phone"
                return self.state
            if shop_config(self.backend).get("identify_code_required"):
                return self._send_code(phone)
            state = self._ask(lambda: self.backend.lookup_phone(phone), not_found="customer_not_found")
            if self.error == "verification_required":  # a shop whose /config does not say, or changed since
                return self._send_code(phone)
            return state
        # A typed card number is read as the printed card would be ("0000123" -> "123" where the shop strips
        # zeros); one the rules refuse still goes to the server, which knows its digital cards and older ones.
        number = read_number(text, self.rules)[0] or text
        return self._ask(lambda: self.backend.lookup_card(number), not_found="card_not_found")

    def _send_code(self, phone: str) -> IdentifyState:
        self._clear()
        self.code = CodeStep(self.backend, purpose="identify", phone=phone)
        self.state = IdentifyState.CODE
        if not self.code.send():
            self.error = self.code.error
        return self.state

    def resend(self) -> IdentifyState:
        if self.code is not None and not self.code.send():
            self.error = self.code.error
        return self.state

    def submit_code(self) -> IdentifyState:
        """The code the customer read out: the server's token finds the card by that phone, once."""
        code = self.code
        if code is None or not code.check():
            self.error = code.error if code else "code_expired"
            return self.state
        state = self._ask(lambda: self.backend.lookup_phone(code.phone, token=code.token),
                          not_found="customer_not_found")
        if state is not IdentifyState.CARD:
            self.state = IdentifyState.CODE  # the error is shown on the code screen; back goes to the phone
        return state

    def back_to_phone(self) -> None:
        self._clear()
        self.code = None

    def _normalised(self, text: str) -> str | None:
        return e164_or_none(text, self.backend.country)

    def show_own(self, view: CardView, notice: str | None = None) -> IdentifyState:
        """The card its owner just proved with an SMS code (Find my card, Join from a phone with a card)."""
        self.reset()
        self.view, self.state, self.notice = view, IdentifyState.CARD, notice
        return self.state

    @property
    def card(self) -> dict | None:
        return self.view.card if self.view else None

    def on_scan(self, scan: Scan) -> IdentifyState:
        decoded = decode(scan.payload, self.rules)
        if isinstance(decoded, CardNumber):
            return self.lookup(decoded.number)
        if isinstance(decoded, DigitalCardToken):
            return self.lookup_digital(decoded.token)
        if isinstance(decoded, EnrolmentCode):
            self.reset()
            self.enrolment, self.state = decoded, IdentifyState.ENROLMENT
            return self.state
        self.reset()
        self.state, self.error = IdentifyState.NOT_OURS, decoded.reason
        return self.state

    def lookup(self, number: str) -> IdentifyState:
        self.reset()
        return self._ask(lambda: self.backend.lookup_card(number), not_found="card_not_found")

    def lookup_digital(self, token: str) -> IdentifyState:
        """A phone's card QR: the server verifies it; offline there is nothing to show and nothing to queue."""
        self.reset()
        state = self._ask(lambda: self.backend.lookup_digital_card(token), not_found="card_not_found")
        if state is IdentifyState.OFFLINE and not token.isdigit():
            # not "server unreachable" alone: the customer can still type the number shown under the QR
            self.state, self.error = IdentifyState.ERROR, "card_qr_offline"
        return self.state

    def _ask(self, lookup, *, not_found: str) -> IdentifyState:
        # what was typed stays, so a wrong digit can be fixed instead of typed again
        self._clear()
        try:
            self.view = lookup()
            self.state = IdentifyState.CARD
        except ServerRefused as e:
            self.state = IdentifyState.NOT_FOUND if e.code == not_found else IdentifyState.ERROR
            self.error = e.code
            if e.code == "card_not_ours":  # the server read it by the shop's card_rules: not a card of ours
                self.state, self.error = IdentifyState.NOT_OURS, "not_ours"
        except ServerUnreachable:
            self.state, self.error = IdentifyState.OFFLINE, "server_unreachable"
        except BadResponse:
            self.state, self.error = IdentifyState.ERROR, "bad_response"
        return self.state
