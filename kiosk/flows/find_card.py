""""Find my card" at the entrance: phone -> a code to that phone -> the customer's own card.

A returning customer without the card in hand proves the phone with an SMS code (purpose "identify", the same
send limits and attempts as every code) and then sees their own card: balance, history and its QR. Nobody
sees a card by typing a phone alone, and the server says whether the phone has a card only after the code.
"""

from __future__ import annotations

import time
from enum import Enum

from loyalty_common.phones import e164_or_none

from ..backend import Backend, CardView
from ..client import BadResponse, ServerRefused, ServerUnreachable
from .entry import DigitEntry

CODE_LENGTH = 6
MAX_PHONE_DIGITS = 16  # E.164 and its '+'


class FindState(Enum):
    PHONE = "phone"
    CODE = "code"
    FOUND = "found"  # `view` is the customer's card
    NO_CARD = "no_card"  # the phone is theirs but has no active card: they may join


class FindCardFlow:
    def __init__(self, backend: Backend, digits: str = "") -> None:
        self.backend = backend
        self.state = FindState.PHONE
        self.phone_entry = DigitEntry(MAX_PHONE_DIGITS)
        self.phone_entry.text = digits
        self.code_entry = DigitEntry(CODE_LENGTH)
        self.phone: str | None = None  # E.164 once sent
        self.challenge: dict | None = None
        self.error: str | None = None
        self.attempts_left: int | None = None
        self.view: CardView | None = None
        self.code_sent_at = 0.0

    @property
    def digits(self) -> str:
        return self.phone_entry.text

    @property
    def code(self) -> str:
        return self.code_entry.text

    def press(self, key: str) -> None:
        """A numpad key for the phone or the code, by state; '+' starts an international number."""
        self.error = None
        if self.state is FindState.PHONE:
            if key == "+" and not self.phone_entry.text:
                self.phone_entry.text = "+"
            else:
                self.phone_entry.press(key)
        elif self.state is FindState.CODE:
            self.code_entry.press(key)

    def normalised_phone(self) -> str | None:
        return e164_or_none(self.digits, self.backend.country)

    def submit_phone(self) -> FindState:
        phone = self.normalised_phone()
        if phone is None:
            self.error = "invalid_phone"
            return self.state
        self.phone = phone
        if self._send():
            self.state = FindState.CODE
        return self.state

    def resend(self) -> None:
        if self.state is FindState.CODE:
            self._send()

    def _send(self) -> bool:
        try:
            self.challenge = self.backend.request_code(self.phone, "identify")
        except ServerRefused as e:
            self.error = e.code
            return False
        except (ServerUnreachable, BadResponse):
            self.error = "server_unreachable"  # the code needs the server now; nothing to queue
            return False
        self.code_entry.text, self.error, self.attempts_left = "", None, None
        self.code_sent_at = time.monotonic()
        return True

    def back(self) -> None:
        """From the code back to the phone, to fix a wrong number."""
        self.state, self.error, self.attempts_left = FindState.PHONE, None, None
        self.code_entry.text = ""

    def submit_code(self) -> FindState:
        if len(self.code) != CODE_LENGTH:
            self.error = "code_incomplete"
            return self.state
        try:
            verified = self.backend.check_code(self.challenge["challenge_id"], self.code)
        except ServerRefused as e:
            self.error, self.attempts_left = e.code, e.details.get("attempts_left")
            self.code_entry.text = ""
            return self.state
        except (ServerUnreachable, BadResponse):
            self.error = "server_unreachable"
            return self.state
        card = verified.get("own_card")
        if isinstance(card, dict) and card.get("number"):
            # the token is not spent by showing the card: adding answers may use it (kiosk/flows/details.py)
            self.view = self.backend.own_card(card, proof=verified.get("verification_token"))
            self.state = FindState.FOUND
        else:
            self.state, self.error = FindState.NO_CARD, "customer_not_found"
        return self.state
