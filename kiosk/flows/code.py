"""The customer's SMS code for an operation that moves money: ask the server, type it, get the token.

The code goes to the phone the card is bound to (the server picks it, never the till), and the token it
yields fits only this card, this purpose and this amount.
"""

from __future__ import annotations

from ..client import BadResponse, ServerRefused, ServerUnreachable
from .entry import DigitEntry

CODE_LENGTH = 6


def code_required(shop_config: dict, purpose: str, amount: int) -> bool:
    """The shop's rule as the server applies it (store_server.messaging.codes.code_required): asking for a code the
    server would not want is harmless, skipping one it wants gets the operation rejected."""
    if not (shop_config.get("code_required") or {}).get(purpose, False):
        return False
    if purpose == "redeem":
        limit = int(shop_config.get("no_code_limit") or 0)
        if 0 < amount <= limit:
            return False
    return True


class CodeStep:
    def __init__(self, backend, *, purpose: str, card_number: str | None = None, amount: int | None = None,
                 phone: str | None = None) -> None:
        self.backend = backend
        # `phone` only for identifying a customer by the phone they say (purpose "identify"): there is no card yet
        self.purpose, self.card_number, self.amount, self.phone = purpose, card_number, amount, phone
        self.entry = DigitEntry(CODE_LENGTH)
        self.challenge: dict | None = None
        self.token: str | None = None
        self.error: str | None = None
        self.attempts_left: int | None = None

    def send(self) -> bool:
        self.error, self.attempts_left, self.entry.text = None, None, ""
        try:
            self.challenge = self.backend.request_code(self.phone, self.purpose, card_number=self.card_number,
                                                       amount=self.amount)
        except ServerRefused as e:
            self.error = e.code
            return False
        except (ServerUnreachable, BadResponse):
            self.error = "server_unreachable"
            return False
        return True

    def press(self, key: str) -> None:
        self.error = None
        self.entry.press(key)

    def check(self) -> bool:
        if len(self.entry.text) != CODE_LENGTH:
            self.error = "code_incomplete"
            return False
        if self.challenge is None:
            self.error = "code_expired"
            return False
        try:
            verified = self.backend.check_code(self.challenge["challenge_id"], self.entry.text)
        except ServerRefused as e:
            self.error, self.attempts_left, self.entry.text = e.code, e.details.get("attempts_left"), ""
            return False
        except (ServerUnreachable, BadResponse):
            self.error = "server_unreachable"
            return False
        self.token = verified["verification_token"]
        return True


class CodeGated:
    """What the money flows share once a code is asked for: send it again, and on the right code queue the
    operation with the server's token. Each flow has its own `_queue(token)`, which moves it to DONE."""

    code: CodeStep | None
    error: str | None

    def resend(self) -> None:
        if self.code is not None and not self.code.send():
            self.error = self.code.error

    def submit_code(self):
        if self.code is None or not self.code.check():
            self.error = self.code.error if self.code else "code_expired"
            return self.state
        self._queue(self.code.token)
        return self.state
