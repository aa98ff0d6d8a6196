"""One receipt at the till, one `sale` operation: amount -> the whole receipt as the server would book it
(discount, bonuses the customer pays with, to pay, bonus earned) -> the customer's code when the server says
this receipt needs one -> queued (the server settles it in one step).

The preview is frozen: once shown, the numpad no longer changes the amount, so a stray tap cannot turn 250
into 2500 behind the figures the customer agreed to. Changing the amount means going back on purpose.
Paying with bonuses needs the server (its balance and cap); offline the receipt has the discount the card
shows, no bonus payment, and says the bonus earned is calculated by the server.
"""

from __future__ import annotations

from enum import Enum

from ..client import BadResponse, ServerRefused, ServerUnreachable
from .cashier import shop_config
from .code import CodeGated, CodeStep, code_required
from .entry import AmountEntry
from .outcome import Settling


class SaleState(Enum):
    AMOUNT = "amount"
    PREVIEW = "preview"
    BONUS = "bonus"  # choosing how much of the receipt is paid with bonuses
    CODE = "code"
    DONE = "done"


def _int(answer: dict, key: str, default: int | None = 0) -> int | None:
    value = answer.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadResponse(f"receipt preview: {key} is not a whole number")
    return value


class SaleFlow(CodeGated, Settling):
    def __init__(self, backend, card: dict, *, cashier: str | None = None) -> None:
        self.backend, self.card, self.cashier = backend, card, cashier
        self.config = shop_config(backend)
        self.state = SaleState.AMOUNT
        self.entry = AmountEntry()
        self.bonus_entry = AmountEntry()
        self.receipt: dict | None = None  # the frozen preview: what Confirm books
        self._offered = False  # the bonus field holds the amount offered, not one typed
        self.code: CodeStep | None = None
        self.error: str | None = None
        self.operation_id: str | None = None

    # the receipt's figures (the preview's once shown) ------------------------------------------------
    @property
    def amount(self) -> int:
        return self.receipt["amount"] if self.receipt else self.entry.minor

    @property
    def discount(self) -> int:
        return self.receipt["discount"] if self.receipt else 0

    @property
    def bonus_payment(self) -> int:
        return self.receipt["bonus_payment"] if self.receipt else 0

    @property
    def max_bonus_payment(self) -> int:
        return self.receipt["max_bonus_payment"] if self.receipt else 0

    @property
    def to_pay(self) -> int:
        return self.receipt["to_pay"] if self.receipt else self.amount

    @property
    def accrual(self) -> int | None:
        """The bonus this receipt earns; None offline (the server calculates it)."""
        return self.receipt["accrued"] if self.receipt else None

    @property
    def offline(self) -> bool:
        return bool(self.receipt and self.receipt["offline"])

    @property
    def balance(self) -> int:
        return int(self.card.get("balance") or 0)

    # keys ---------------------------------------------------------------------------------------------
    def press(self, key: str) -> None:
        if self.state is SaleState.PREVIEW or self.state is SaleState.DONE:
            return  # the figures are frozen: keys do nothing until the cashier goes back on purpose
        self.error = None
        if self.state is SaleState.BONUS and self._offered and key.isdigit():
            self.bonus_entry.text = ""  # the cap was only offered: the first digit types another amount
        self._offered = False
        {SaleState.AMOUNT: self.entry, SaleState.BONUS: self.bonus_entry}.get(self.state, self.code).press(key)

    # steps --------------------------------------------------------------------------------------------
    def preview(self) -> SaleState:
        """AMOUNT -> PREVIEW, without bonuses spent (the cashier adds them if the customer wants)."""
        if self.state is not SaleState.AMOUNT:
            return self.state
        if self.entry.minor <= 0:
            self.error = "bad_amount"
            return self.state
        return self._ask(self.entry.minor, 0, offline_ok=True)

    def choose_bonus(self) -> SaleState:
        """PREVIEW -> BONUS: how much to pay with bonuses, at most the server's cap (offered in full)."""
        if self.state is SaleState.PREVIEW and self.max_bonus_payment > 0:
            self.bonus_entry.set_minor(self.bonus_payment or self.max_bonus_payment)
            self.state, self.error, self._offered = SaleState.BONUS, None, True
        elif self.state is SaleState.PREVIEW:
            self.error = "bonus_payment_needs_server" if self.offline else "no_bonus_to_spend"
        return self.state

    def use_max(self) -> None:
        if self.state is SaleState.BONUS:
            self.error, self._offered = None, True
            self.bonus_entry.set_minor(self.max_bonus_payment)

    def apply_bonus(self) -> SaleState:
        """BONUS -> PREVIEW with the chosen bonuses, the server's figures again."""
        if self.state is not SaleState.BONUS:
            return self.state
        wanted = self.bonus_entry.minor
        if wanted > self.max_bonus_payment:
            self.error = "bonus_payment_over_max"
            return self.state
        return self._ask(self.amount, wanted, offline_ok=False)

    def no_bonus(self) -> SaleState:
        if self.state in (SaleState.PREVIEW, SaleState.BONUS) and self.bonus_payment:
            return self._ask(self.amount, 0, offline_ok=True)
        if self.state is SaleState.BONUS:
            self.state, self.error = SaleState.PREVIEW, None
        return self.state

    def back(self) -> None:
        if self.state in (SaleState.BONUS, SaleState.CODE):
            self.state, self.error, self.code = SaleState.PREVIEW, None, None
        elif self.state is SaleState.PREVIEW:
            self.state, self.error, self.receipt = SaleState.AMOUNT, None, None

    def confirm(self) -> SaleState:
        if self.state is not SaleState.PREVIEW:
            return self.state
        purpose = self.receipt["code_purpose"]
        if purpose:
            self.code = CodeStep(self.backend, purpose=purpose, card_number=self.card["number"],
                                 amount=self.receipt.get("code_amount", self.discount + self.bonus_payment))
            self.state = SaleState.CODE
            if not self.code.send():
                self.error = self.code.error
            return self.state
        return self._queue(None)

    # the server ---------------------------------------------------------------------------------------
    def _ask(self, amount: int, bonus_payment: int, *, offline_ok: bool) -> SaleState:
        self.error = None
        try:
            answer = self.backend.client.receipt_preview(self.card["number"], amount, bonus_payment)
            receipt = {key: _int(answer, key) for key in ("amount", "discount", "bonus_payment",
                                                          "max_bonus_payment", "to_pay")}
            receipt["accrued"] = _int(answer, "accrued", None)
            purpose = answer.get("code_purpose")
            receipt["code_purpose"] = purpose if purpose in ("discount", "redeem", "sale") else None
            # the amount the code's token must name (the server says; older servers: discount + bonuses)
            receipt["code_amount"] = _int(answer, "code_amount", receipt["discount"] + receipt["bonus_payment"])
            receipt["offline"] = False
            if receipt["amount"] != amount or receipt["bonus_payment"] != bonus_payment:
                raise BadResponse("receipt preview for another amount")
        except ServerRefused as e:
            self.error = e.code
            return self.state
        except (ServerUnreachable, BadResponse):
            if not offline_ok:
                self.error = "bonus_payment_needs_server"
                return self.state
            receipt = self._offline_receipt(amount)
        self.receipt, self.state = receipt, SaleState.PREVIEW
        return self.state

    def _offline_receipt(self, amount: int) -> dict:
        """The receipt the device can vouch for alone: the card's discount, nothing paid with bonuses."""
        percent = int(self.card.get("discount_percent") or 0) if self.card.get("kind") == "discount" else 0
        discount = amount * percent // 100
        purpose = "discount" if discount and code_required(self.config, "discount", discount) else None
        return {"amount": amount, "discount": discount, "bonus_payment": 0, "max_bonus_payment": 0,
                "to_pay": amount - discount, "accrued": None, "code_purpose": purpose, "code_amount": discount,
                "offline": True}

    def _queue(self, token: str | None) -> SaleState:
        payload = {"card_number": self.card["number"], "amount": self.amount}
        if self.bonus_payment:
            payload["bonus_payment"] = self.bonus_payment
        self.operation_id = self.backend.enqueue("sale", payload, verification_token=token, cashier=self.cashier)
        self.state, self.error = SaleState.DONE, None
        return self.state
