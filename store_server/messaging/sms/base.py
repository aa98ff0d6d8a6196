"""The one interface every SMS gateway implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class GatewayError(Exception):
    """The gateway did not take the message. `retryable` says whether another gateway may try."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SendResult:
    gateway: str
    message_id: str | None
    status: str = "sent"  # sent | queued | delivered | failed


class Gateway(Protocol):
    name: str

    def send(self, phone: str, text: str) -> SendResult:
        """Send `text` to an E.164 `phone`; raise GatewayError when the message was not accepted."""
        ...


class StatusQuery(Protocol):
    """Gateways that can be asked how a sent message fared (delivery receipts by polling)."""

    def status(self, message_id: str, phone: str) -> str:
        """One of "queued", "sent", "delivered", "failed"; raise GatewayError when it cannot tell."""
        ...


def phone_digits(phone: str) -> str:
    """+380671234567 -> 380671234567: most providers want the number without the plus."""
    digits = phone.strip().lstrip("+")
    if not (digits.isascii() and digits.isdigit()) or not 7 <= len(digits) <= 15:
        raise GatewayError(f"not an E.164 phone number: {phone[:3]}…", retryable=False)
    return digits
