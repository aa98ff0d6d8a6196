"""The card's sales as the server knows them, from every till of the shop: what a return or a cancel picks
from. Only the server knows them all (and what was already returned), so without it there is nothing to
pick and nothing is queued."""

from __future__ import annotations

from ..client import BadResponse, ServerRefused, ServerUnreachable
from .entry import DigitEntry

RECEIPT_PREFIX = "lk://receipt/"
MAX_RECEIPT_DIGITS = 20


def receipt_key(text: str) -> str | None:
    """What the server looks a sale up by: a receipt QR's id, or the number printed on the receipt."""
    text = text.strip()
    if text.lower().startswith(RECEIPT_PREFIX):
        text = text[len(RECEIPT_PREFIX):]
    return text or None


def is_receipt(payload: str) -> bool:
    return payload.strip().lower().startswith(RECEIPT_PREFIX)


class SalesFromServer:
    """For the return and cancel flows: the card's sales, and one sale found by its receipt."""

    card: dict
    error: str | None
    sales: list[dict]
    receipt_entry: DigitEntry

    def load(self) -> bool:
        try:
            self.sales = [s for s in self.backend.client.card_sales(self.card["number"]) if self.offers(s)]
        except ServerRefused as e:
            self.sales, self.error = [], e.code
            return False
        except (ServerUnreachable, BadResponse):
            self.sales, self.error = [], "needs_server"
            return False
        self.loaded = True
        return True

    def offers(self, sale: dict) -> bool:  # pragma: no cover - each flow says which sales it can take
        raise NotImplementedError

    def find_receipt(self, text: str | None = None) -> dict | None:
        """A receipt scanned or typed: its sale, if it is this card's and can still be taken."""
        key = receipt_key(text if text is not None else self.receipt_entry.text)
        if not key:
            self.error = "number_missing"
            return None
        try:
            sale = self.backend.client.sale(key)
        except ServerRefused as e:
            self.error = e.code
            return None
        except (ServerUnreachable, BadResponse):
            self.error = "needs_server"
            return None
        if sale.get("card_number") != self.card["number"]:
            self.error = "receipt_of_another_card"
            return None
        if not self.offers(sale):
            self.error = self.refusal
            return None
        self.receipt_entry.text = ""
        return sale

    refusal = "sale_not_returnable"
