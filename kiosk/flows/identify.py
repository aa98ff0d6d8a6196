"""Identify a customer from a scan: show the card, or say clearly why not."""

from __future__ import annotations

from enum import Enum

from drivers.scanner.base import Scan
from drivers.scanner.decode import CardNumber, DigitalCardToken, EnrolmentCode, decode

from ..backend import Backend, CardView
from ..client import BadResponse, ServerRefused, ServerUnreachable


class IdentifyState(Enum):
    IDLE = "idle"
    CARD = "card"  # card shown (maybe from cache, see `view.from_cache`)
    NOT_OURS = "not_ours"  # the scan is not one of our cards
    NOT_FOUND = "not_found"  # looks like a card, the server does not know it
    OFFLINE = "offline"  # server unreachable and card not cached
    ENROLMENT = "enrolment"  # a technician's enrolment QR
    ERROR = "error"


class IdentifyFlow:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.reset()

    def reset(self) -> None:
        self.state = IdentifyState.IDLE
        self.view: CardView | None = None
        self.error: str | None = None
        self.enrolment: EnrolmentCode | None = None

    @property
    def card(self) -> dict | None:
        return self.view.card if self.view else None

    def on_scan(self, scan: Scan) -> IdentifyState:
        decoded = decode(scan.payload)
        if isinstance(decoded, CardNumber):
            return self.lookup(decoded.number)
        if isinstance(decoded, DigitalCardToken):
            return self.lookup(decoded.token)
        if isinstance(decoded, EnrolmentCode):
            self.reset()
            self.enrolment, self.state = decoded, IdentifyState.ENROLMENT
            return self.state
        self.reset()
        self.state, self.error = IdentifyState.NOT_OURS, decoded.reason
        return self.state

    def lookup(self, number: str) -> IdentifyState:
        self.reset()
        try:
            self.view = self.backend.lookup_card(number)
            self.state = IdentifyState.CARD
        except ServerRefused as e:
            self.state = IdentifyState.NOT_FOUND if e.code == "card_not_found" else IdentifyState.ERROR
            self.error = e.code
        except ServerUnreachable:
            self.state, self.error = IdentifyState.OFFLINE, "server_unreachable"
        except BadResponse:
            self.state, self.error = IdentifyState.ERROR, "bad_response"
        return self.state
