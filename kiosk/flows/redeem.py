"""Paying with bonuses: amount (at most the balance) -> the customer's code when the shop wants one ->
queued. The server checks the balance again and refuses what the card no longer holds."""

from __future__ import annotations

from enum import Enum

from .cashier import shop_config
from .code import CodeGated, CodeStep, code_required
from .entry import AmountEntry
from .outcome import Settling


class RedeemState(Enum):
    AMOUNT = "amount"
    CODE = "code"
    DONE = "done"


class RedeemFlow(CodeGated, Settling):
    def __init__(self, backend, card: dict, *, cashier: str | None = None) -> None:
        self.backend, self.card, self.cashier = backend, card, cashier
        self.config = shop_config(backend)
        self.state = RedeemState.AMOUNT
        self.entry = AmountEntry()
        self.code: CodeStep | None = None
        self.error: str | None = None
        self.operation_id: str | None = None

    @property
    def amount(self) -> int:
        return self.entry.minor

    @property
    def balance(self) -> int:
        return int(self.card.get("balance") or 0)

    def press(self, key: str) -> None:
        self.error = None
        (self.code if self.state is RedeemState.CODE else self.entry).press(key)

    def use_all(self) -> None:
        self.entry.set_minor(self.balance)

    def needs_code(self) -> bool:
        return code_required(self.config, "redeem", self.amount)

    def confirm(self) -> RedeemState:
        if self.amount <= 0:
            self.error = "bad_amount"
        elif self.amount > self.balance:
            self.error = "insufficient_balance"
        elif self.needs_code():
            self.code = CodeStep(self.backend, purpose="redeem", card_number=self.card["number"], amount=self.amount)
            self.state = RedeemState.CODE
            if not self.code.send():
                self.error = self.code.error
        else:
            self._queue(None)
        return self.state

    def back(self) -> None:
        self.state, self.error, self.code = RedeemState.AMOUNT, None, None

    def _queue(self, token: str | None) -> None:
        self.operation_id = self.backend.enqueue(
            "redeem", {"card_number": self.card["number"], "amount": self.amount},
            verification_token=token, cashier=self.cashier)
        self.state, self.error = RedeemState.DONE, None
