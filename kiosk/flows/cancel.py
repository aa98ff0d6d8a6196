"""Cancelling a whole sale at any till of the shop. The server may refuse (the bonuses it gave were spent,
goods were returned, ...); the cashier must see why, so the cancel is sent at once and its verdict awaited.
Without an answer it stays queued and the technician screen shows how it ended."""

from __future__ import annotations

from enum import Enum

from .entry import DigitEntry
from .outcome import wait_for
from .sales import MAX_RECEIPT_DIGITS, SalesFromServer


class CancelState(Enum):
    PICK = "pick"
    RECEIPT = "receipt"  # typing the receipt's number
    CONFIRM = "confirm"
    DONE = "done"
    REFUSED = "refused"
    QUEUED = "queued"


class CancelFlow(SalesFromServer):
    refusal = "sale_not_cancellable"

    def __init__(self, backend, card: dict, *, cashier: str | None = None, wait: float = 8.0) -> None:
        self.backend, self.card, self.cashier, self.wait = backend, card, cashier, wait
        self.state = CancelState.PICK
        self.target: dict | None = None
        self.sales: list[dict] = []
        self.loaded = False
        self.receipt_entry = DigitEntry(MAX_RECEIPT_DIGITS)
        self.error: str | None = None
        self.operation_id: str | None = None

    def offers(self, sale: dict) -> bool:
        return bool(sale.get("cancellable"))

    @property
    def options(self) -> list[dict]:
        return self.sales

    def pick(self, index: int) -> CancelState:
        return self._take(self.sales[index])

    def type_receipt(self) -> CancelState:
        self.state, self.error = CancelState.RECEIPT, None
        return self.state

    def submit_receipt(self, text: str | None = None) -> CancelState:
        sale = self.find_receipt(text)
        return self._take(sale) if sale is not None else self.state

    def _take(self, sale: dict) -> CancelState:
        self.target = sale
        self.state, self.error = CancelState.CONFIRM, None
        return self.state

    def press(self, key: str) -> None:
        if self.state is CancelState.RECEIPT:
            self.error = None
            self.receipt_entry.press(key)

    def back(self) -> None:
        self.state, self.target, self.error = CancelState.PICK, None, None

    def confirm(self) -> CancelState:
        if self.state is CancelState.RECEIPT:
            return self.submit_receipt()
        if self.target is None or self.state is not CancelState.CONFIRM:
            return self.state
        self.operation_id = self.backend.enqueue(
            "cancel", {"operation_id": self.target["operation_id"], "card_number": self.card["number"]},
            cashier=self.cashier)
        outcome = wait_for(self.backend, self.operation_id, timeout=self.wait)
        self.state = {"done": CancelState.DONE, "refused": CancelState.REFUSED}.get(outcome.status,
                                                                                     CancelState.QUEUED)
        self.error = outcome.error
        return self.state
