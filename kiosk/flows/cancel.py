"""Cancelling a whole sale or redemption made at this till. The server may refuse (the bonuses it gave
were spent, goods were returned, ...); the cashier must see why, so the cancel is sent at once and its
verdict awaited. Without an answer it stays queued and the technician screen shows how it ended."""

from __future__ import annotations

from enum import Enum

from .cashier import local_operations
from .outcome import wait_for


class CancelState(Enum):
    PICK = "pick"
    CONFIRM = "confirm"
    DONE = "done"
    REFUSED = "refused"
    QUEUED = "queued"


class CancelFlow:
    def __init__(self, backend, card: dict, *, cashier: str | None = None, wait: float = 8.0) -> None:
        self.backend, self.card, self.cashier, self.wait = backend, card, cashier, wait
        self.state = CancelState.PICK
        self.target: dict | None = None
        self.error: str | None = None
        self.operation_id: str | None = None
        self.candidates = self._cancellable()

    def _cancellable(self) -> list[dict]:
        ops = local_operations(self.backend, ("sale", "redeem", "return", "cancel"))
        touched = {op["payload"].get("operation_id") for op in ops if op["type"] == "cancel"}
        touched |= {op["payload"].get("sale_id") for op in ops if op["type"] == "return"}
        return [op for op in ops if op["type"] in ("sale", "redeem") and op["id"] not in touched
                and op["payload"].get("card_number") == self.card["number"]]

    def pick(self, index: int) -> CancelState:
        self.target = self.candidates[index]
        self.state, self.error = CancelState.CONFIRM, None
        return self.state

    def back(self) -> None:
        self.state, self.target, self.error = CancelState.PICK, None, None

    def confirm(self) -> CancelState:
        if self.target is None:
            return self.state
        self.operation_id = self.backend.enqueue(
            "cancel", {"operation_id": self.target["id"], "card_number": self.card["number"]},
            cashier=self.cashier)
        outcome = wait_for(self.backend, self.operation_id, timeout=self.wait)
        self.state = {"done": CancelState.DONE, "refused": CancelState.REFUSED}.get(outcome.status,
                                                                                     CancelState.QUEUED)
        self.error = outcome.error
        return self.state
