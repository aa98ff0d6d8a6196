"""A return at the till: pick the original sale (this till's, from its outbox) -> how much comes back ->
the customer's code when bonuses spent on the sale are refunded and the shop wants one -> queued.

The server takes back the sale's accrual and refunds its spent bonuses pro rata; the code's token must
name the refund exactly, so the device computes it the server's way (store_server/operations.py).
"""

from __future__ import annotations

from enum import Enum

from .cashier import local_operations, shop_config
from .code import CodeGated, CodeStep, code_required
from .entry import AmountEntry
from .outcome import Settling


class ReturnState(Enum):
    PICK = "pick"
    AMOUNT = "amount"
    CODE = "code"
    DONE = "done"


def share(total: int, sale_amount: int, before: int, after: int) -> int:
    return total * after // sale_amount - total * before // sale_amount


class ReturnFlow(CodeGated, Settling):
    def __init__(self, backend, card: dict, *, cashier: str | None = None) -> None:
        self.backend, self.card, self.cashier = backend, card, cashier
        self.config = shop_config(backend)
        self.state = ReturnState.PICK
        self.entry = AmountEntry()
        self.sale: dict | None = None
        self.code: CodeStep | None = None
        self.error: str | None = None
        self.operation_id: str | None = None
        self.sales = self._returnable_sales()

    def _returnable_sales(self) -> list[dict]:
        ops = local_operations(self.backend, ("sale", "return", "cancel"))
        cancelled = {op["payload"].get("operation_id") for op in ops if op["type"] == "cancel"}
        returned: dict[str, int] = {}
        for op in ops:
            if op["type"] == "return":
                returned[op["payload"]["sale_id"]] = returned.get(op["payload"]["sale_id"], 0) + op["payload"]["amount"]
        sales = []
        for op in ops:
            if op["type"] != "sale" or op["payload"].get("card_number") != self.card["number"] or op["id"] in cancelled:
                continue
            left = op["payload"]["amount"] - returned.get(op["id"], 0)
            if left > 0:
                sales.append({**op, "returned": returned.get(op["id"], 0), "left": left})
        return sales

    def pick(self, index: int) -> ReturnState:
        self.sale = self.sales[index]
        self.entry.set_minor(self.sale["left"])
        self.state, self.error = ReturnState.AMOUNT, None
        return self.state

    @property
    def amount(self) -> int:
        return self.entry.minor

    def refund(self) -> int:
        """Bonuses spent on the sale that this return gives back."""
        sale = self.sale["payload"]
        before = self.sale["returned"]
        return share(int(sale.get("redeem") or 0), sale["amount"], before, before + self.amount)

    def press(self, key: str) -> None:
        self.error = None
        (self.code if self.state is ReturnState.CODE else self.entry).press(key)

    def back(self) -> None:
        self.state = ReturnState.AMOUNT if self.state is ReturnState.CODE else ReturnState.PICK
        self.error, self.code = None, None

    def confirm(self) -> ReturnState:
        if self.sale is None:
            return self.state
        if self.amount <= 0:
            self.error = "bad_amount"
        elif self.amount > self.sale["left"]:
            self.error = "return_too_large"
        elif self.refund() and code_required(self.config, "return", self.refund()):
            self.code = CodeStep(self.backend, purpose="return", card_number=self.card["number"],
                                 amount=self.refund())
            self.state = ReturnState.CODE
            if not self.code.send():
                self.error = self.code.error
        else:
            self._queue(None)
        return self.state

    def _queue(self, token: str | None) -> None:
        self.operation_id = self.backend.enqueue(
            "return", {"sale_id": self.sale["id"], "amount": self.amount, "card_number": self.card["number"]},
            verification_token=token, cashier=self.cashier)
        self.state, self.error = ReturnState.DONE, None
