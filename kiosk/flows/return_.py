"""A return at any till: pick the sale (the card's sales from the server, or a receipt scanned or typed)
-> how much comes back -> the customer's code when bonuses spent on the sale are given back and the shop
wants one -> sent, and the server's verdict awaited: the cashier hands money back only for a return the
server booked.

The server takes back the sale's accrual and gives spent bonuses back pro rata; the code's token must name
that refund exactly, so the device computes it the server's way (store_server/ledger/operations.py)."""

from __future__ import annotations

from enum import Enum

from ..client import BadResponse, ServerRefused, ServerUnreachable
from .cashier import shop_config
from .code import CodeGated, CodeStep, code_required
from .entry import AmountEntry, DigitEntry
from .identify import IdentifyState
from .outcome import Settling, wait_for
from .sales import MAX_RECEIPT_DIGITS, SalesFromServer, receipt_key


class ReturnState(Enum):
    PICK = "pick"
    RECEIPT = "receipt"  # typing the receipt's number
    AMOUNT = "amount"
    CODE = "code"
    DONE = "done"


def share(total: int, sale_amount: int, before: int, after: int) -> int:
    return total * after // sale_amount - total * before // sale_amount


class ReturnFlow(SalesFromServer, CodeGated, Settling):
    def __init__(self, backend, card: dict, *, cashier: str | None = None, wait: float = 8.0) -> None:
        self.backend, self.card, self.cashier, self.wait = backend, card, cashier, wait
        self.config = shop_config(backend)
        self.state = ReturnState.PICK
        self.entry = AmountEntry()
        self.receipt_entry = DigitEntry(MAX_RECEIPT_DIGITS)
        self.sale: dict | None = None
        self.sales: list[dict] = []
        self.loaded = False
        self.code: CodeStep | None = None
        self.error: str | None = None
        self.operation_id: str | None = None

    def offers(self, sale: dict) -> bool:
        return int(sale.get("returnable_amount") or 0) > 0

    @property
    def options(self) -> list[dict]:
        return self.sales

    def pick(self, index: int) -> ReturnState:
        return self._take(self.sales[index])

    def type_receipt(self) -> ReturnState:
        self.state, self.error = ReturnState.RECEIPT, None
        return self.state

    def submit_receipt(self, text: str | None = None) -> ReturnState:
        sale = self.find_receipt(text)
        return self._take(sale) if sale is not None else self.state

    def _take(self, sale: dict) -> ReturnState:
        self.sale = sale
        self.entry.set_minor(self.left)
        self.state, self.error = ReturnState.AMOUNT, None
        return self.state

    @property
    def left(self) -> int:
        return int(self.sale.get("returnable_amount") or 0) if self.sale else 0

    @property
    def amount(self) -> int:
        return self.entry.minor

    def _share(self, key: str) -> int:
        sale = self.sale
        before = int(sale.get("returned_amount") or 0)
        return share(int(sale.get(key) or 0), int(sale["amount"]), before, before + min(self.amount, self.left))

    def refund(self) -> int:
        """Bonuses spent on the sale that this return gives back."""
        return self._share("bonus_payment")

    def money_back(self) -> int:
        """The part of what the customer paid in money that this return gives back (before any bonuses the
        customer already spent from the sale's accrual are kept back: the server's answer says so)."""
        return self._share("to_pay")

    def press(self, key: str) -> None:
        self.error = None
        {ReturnState.CODE: self.code, ReturnState.RECEIPT: self.receipt_entry}.get(self.state, self.entry).press(key)

    def back(self) -> None:
        self.state = ReturnState.AMOUNT if self.state is ReturnState.CODE else ReturnState.PICK
        self.error, self.code = None, None

    def confirm(self) -> ReturnState:
        if self.state is ReturnState.RECEIPT:
            return self.submit_receipt()
        if self.sale is None or self.state is not ReturnState.AMOUNT:
            return self.state
        if self.amount <= 0:
            self.error = "bad_amount"
        elif self.amount > self.left:
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
            "return", {"sale_id": self.sale["operation_id"], "amount": self.amount,
                       "card_number": self.card["number"]},
            verification_token=token, cashier=self.cashier)
        self.state, self.error = ReturnState.DONE, None
        self.outcome = wait_for(self.backend, self.operation_id, timeout=self.wait)


def open_receipt(backend, identify, payload: str, *,
                 cashier: str | None = None) -> tuple[ReturnFlow | None, str | None]:
    """A receipt's QR scanned at the till's home or on a card: its card is shown (`identify`) and a return
    of that sale opened, whichever till sold it. (None, error code) when that cannot be."""
    try:
        sale = backend.client.sale(receipt_key(payload) or "")
    except ServerRefused as e:
        return None, e.code
    except (ServerUnreachable, BadResponse):
        return None, "needs_server"
    if identify.lookup(str(sale.get("card_number") or "")) is not IdentifyState.CARD:
        return None, identify.error
    flow = ReturnFlow(backend, identify.card, cashier=cashier)
    if not flow.offers(sale):
        return None, "sale_not_returnable"
    flow._take(sale)
    return flow, None
