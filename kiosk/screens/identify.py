"""Typing the card number (anyone) or the phone number (the till) instead of scanning: draws `app.identify`."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from ..messages import message
from .base import KioskScreen
from .format import phone_as_typed


class IdentifyTypedScreen(KioskScreen):
    by_phone = BooleanProperty(False)  # else the card number
    typed = StringProperty("")
    error = StringProperty("")
    can_phone = BooleanProperty(False)  # the till only: a phone look-up shows a stranger's balance

    def render(self, app) -> None:
        flow = app.identify
        self.by_phone = flow.typing == "phone"
        # a phone grouped as the country writes it while it is typed (067 123 4567), a card number as printed
        self.typed = phone_as_typed(flow.typed, app.backend.country) if self.by_phone else flow.typed
        self.can_phone = app.role == "cashier"
        self.error = message(flow.error)
