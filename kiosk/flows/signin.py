"""A cashier signs in on the till with a personal PIN or a scanned staff badge; the server checks both and
counts wrong PINs (the lockout lives there, so another till is no way round it).

Signing in needs the server. A cashier already signed in keeps working offline until sign-out, the idle
timeout or the end of the session the server granted (`expires_at`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ..client import BadResponse, ServerRefused, ServerUnreachable
from .entry import DigitEntry

PIN_MIN, PIN_MAX = 4, 8
RETRY_AFTER = 0.3  # s


@dataclass(frozen=True)
class CashierSession:
    cashier_id: str
    name: str
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at


def _session(answer: dict) -> CashierSession:
    try:
        expires = answer.get("expires_at")
        expires_at = datetime.fromisoformat(expires) if expires else None
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return CashierSession(str(answer["cashier_id"]), str(answer.get("name") or ""), expires_at)
    except (KeyError, TypeError, ValueError) as e:
        raise BadResponse(f"sign-in answer without a cashier: {e}") from e


class SignInFlow:
    def __init__(self, backend) -> None:
        self.backend = backend
        self.entry = DigitEntry(PIN_MAX)
        self.error: str | None = None
        self.attempts_left: int | None = None
        self.locked_until: datetime | None = None
        self.session: CashierSession | None = None

    @property
    def masked(self) -> str:
        return "•" * len(self.entry.text)

    def press(self, key: str) -> None:
        self.error, self.attempts_left = None, None
        self.entry.press(key)

    def submit(self) -> CashierSession | None:
        """The PIN typed on the numpad."""
        pin = self.entry.text
        if not PIN_MIN <= len(pin) <= PIN_MAX:
            self.error = "bad_pin"
            return None
        return self._login(pin=pin)

    def badge(self, payload: str) -> CashierSession | None:
        """A staff badge held to the scanner."""
        return self._login(badge=payload.strip())

    def _login(self, **credentials) -> CashierSession | None:
        self.error, self.attempts_left, self.locked_until = None, None, None
        self.entry.text = ""  # a PIN never stays on the screen, right or wrong
        try:
            try:
                answer = self.backend.client.cashier_login(**credentials)
            except BadResponse:
                # a server error (e.g. its database busy with a batch that very moment) changed nothing:
                # once more before the cashier is told the server is away
                time.sleep(RETRY_AFTER)
                answer = self.backend.client.cashier_login(**credentials)
            self.session = _session(answer)
        except ServerRefused as e:
            self.error = e.code
            if e.code == "cashier_pin_wrong":
                self.attempts_left = e.details.get("attempts_left")
            until = e.details.get("until")
            if e.code == "cashier_locked" and isinstance(until, str):
                try:
                    self.locked_until = datetime.fromisoformat(until)
                except ValueError:
                    self.locked_until = None
            return None
        except (ServerUnreachable, BadResponse):
            self.error = "signin_needs_server"
            return None
        return self.session
