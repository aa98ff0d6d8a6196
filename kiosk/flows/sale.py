"""A purchase at the till: amount -> what the customer gets (discount, bonus) -> code if the shop wants
one for the discount -> confirmed (queued in the outbox; the server settles it)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from .accrual import estimate_accrual
from .cashier import shop_config
from .code import CodeGated, CodeStep, code_required
from .entry import AmountEntry
from .outcome import Settling


class SaleState(Enum):
    AMOUNT = "amount"
    PREVIEW = "preview"
    CODE = "code"
    DONE = "done"


class SaleFlow(CodeGated, Settling):
    def __init__(self, backend, card: dict, *, cashier: str | None = None) -> None:
        self.backend, self.card, self.cashier = backend, card, cashier
        self.config = shop_config(backend)
        self.state = SaleState.AMOUNT
        self.entry = AmountEntry()
        self.discount = 0
        self.accrual: int | None = None  # None: the device cannot know the shop's rules; the server decides
        self.code: CodeStep | None = None
        self.error: str | None = None
        self.operation_id: str | None = None

    @property
    def amount(self) -> int:
        return self.entry.minor

    @property
    def to_pay(self) -> int:
        return self.amount - self.discount

    def press(self, key: str) -> None:
        self.error = None
        (self.code if self.state is SaleState.CODE else self.entry).press(key)

    def preview(self, now: datetime | None = None) -> SaleState:
        if self.amount <= 0:
            self.error = "bad_amount"
            return self.state
        kind = self.card.get("kind")
        self.discount = self.amount * int(self.card.get("discount_percent") or 0) // 100 if kind == "discount" else 0
        self.accrual = (estimate_accrual(self.config, self.to_pay, card_type=self.card.get("card_type") or "standard",
                                         now=now) if kind != "discount" else 0)
        self.state = SaleState.PREVIEW
        return self.state

    def back(self) -> None:
        self.state, self.error, self.code = SaleState.AMOUNT, None, None

    def confirm(self) -> SaleState:
        if self.state is not SaleState.PREVIEW:
            return self.state
        if self.discount and code_required(self.config, "discount", self.discount):
            self.code = CodeStep(self.backend, purpose="discount", card_number=self.card["number"],
                                 amount=self.discount)
            self.state = SaleState.CODE
            if not self.code.send():
                self.error = self.code.error
            return self.state
        return self._queue(None)

    def _queue(self, token: str | None) -> SaleState:
        self.operation_id = self.backend.enqueue(
            "sale", {"card_number": self.card["number"], "amount": self.amount},
            verification_token=token, cashier=self.cashier)
        self.state, self.error = SaleState.DONE, None
        return self.state
