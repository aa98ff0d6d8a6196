"""What a numpad types: an amount of money in minor units, or a string of digits (PIN, code, card number)."""

from __future__ import annotations

MAX_AMOUNT = 10_000_000_00  # ten million in major units: no till sells more, a longer number is a slip


class AmountEntry:
    """Keys '0'-'9', '.', 'back', 'clear'; at most two decimals, like a till's keypad."""

    def __init__(self) -> None:
        self.text = ""

    def press(self, key: str) -> None:
        if key == "back":
            self.text = self.text[:-1]
        elif key == "clear":
            self.text = ""
        elif key in (".", ","):
            if "." not in self.text:
                self.text = (self.text or "0") + "."
        elif key.isdigit() and len(key) == 1:
            whole, dot, cents = self.text.partition(".")
            if dot and len(cents) >= 2:
                return
            candidate = "0" if self.text == "0" and not dot else self.text
            candidate = (candidate[:-1] if candidate == "0" else candidate) + key
            if _minor(candidate) <= MAX_AMOUNT:
                self.text = candidate

    @property
    def minor(self) -> int:
        return _minor(self.text)

    def set_minor(self, minor: int) -> None:
        whole, cents = divmod(minor, 100)
        self.text = f"{whole}.{cents:02d}" if cents else str(whole)


def _minor(text: str) -> int:
    if not text or text == ".":
        return 0
    whole, _dot, cents = text.partition(".")
    return int(whole or 0) * 100 + int((cents + "00")[:2])


class DigitEntry:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.text = ""

    def press(self, key: str) -> None:
        if key == "back":
            self.text = self.text[:-1]
        elif key == "clear":
            self.text = ""
        elif key.isdigit() and len(key) == 1 and len(self.text) < self.limit:
            self.text += key
