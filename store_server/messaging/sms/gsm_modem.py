"""A USB GSM modem as an SMS gateway, sharing the port with the inbound-activation poller.

The modem is opened on first use and reopened after it was unplugged or hung, so a cable pulled and
pushed back heals without restarting the server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from drivers.modem import Modem, ModemCommandError, ModemError, ReceivedSms

from .base import GatewayError, SendResult, phone_digits

T = TypeVar("T")


class GsmModemGateway:
    name = "gsm_modem"

    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 5.0, send_timeout: float = 60.0) -> None:
        self.port, self.baudrate, self.timeout, self.send_timeout = port, baudrate, timeout, send_timeout
        self._modem: Modem | None = None
        self._lock = threading.Lock()

    def _use(self, action: Callable[[Modem], T]) -> T:
        with self._lock:
            try:
                if self._modem is None:
                    self._modem = Modem(self.port, baudrate=self.baudrate, timeout=self.timeout,
                                        send_timeout=self.send_timeout)
                return action(self._modem)
            except ModemError as e:
                if not isinstance(e, ModemCommandError):  # timeout / unplugged: start afresh next time
                    self._close_locked()
                raise GatewayError(f"{self.name}: {e}", retryable=e.retryable) from e

    def _close_locked(self) -> None:
        if self._modem is not None:
            self._modem.close()
            self._modem = None

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def send(self, phone: str, text: str) -> SendResult:
        phone = "+" + phone_digits(phone)
        refs = self._use(lambda modem: modem.send_sms(phone, text))
        # A message reference is only unique per modem and wraps at 256, and a chain's modems share a name: the
        # log's id (unique per gateway name) adds the moment it was accepted, so the 257th message or another
        # modem's never clashes. The wall clock, not the server's (a test may hold that still); every part kept.
        accepted = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return SendResult(self.name, f"{','.join(str(r) for r in refs)}@{accepted}", "sent")

    def read_messages(self, *, unread_only: bool = False) -> list[ReceivedSms]:
        """Messages customers sent to the shop's number (card numbers for activation)."""
        return self._use(lambda modem: modem.read_messages(unread_only=unread_only))

    def delete_message(self, index: int) -> None:
        self._use(lambda modem: modem.delete_message(index))

    def delete_messages(self, indexes: tuple[int, ...] | list[int]) -> None:
        self._use(lambda modem: modem.delete_messages(indexes))
