from __future__ import annotations

from kivy.properties import StringProperty

from ..flows.find_card import CODE_LENGTH
from ..messages import attempts_left, message
from .base import CodeEntryScreen, KioskScreen
from .format import phone_as_typed


class FindPhoneScreen(KioskScreen):
    """"Find my card": the customer's phone, grouped as they type it."""

    phone_text = StringProperty("")
    error = StringProperty("")

    def render(self, app) -> None:
        flow = app.find
        self.phone_text = phone_as_typed(flow.digits, app.backend.country)
        self.error = message(flow.error)


class FindCodeScreen(CodeEntryScreen):
    masked_phone = StringProperty("")

    def render(self, app) -> None:
        flow = app.find
        self.code_text = " ".join(flow.code.ljust(CODE_LENGTH, "•"))
        self.masked_phone = app.mask(flow.phone)
        self.error = " ".join(filter(None, [message(flow.error), attempts_left(flow.attempts_left)]))
        self.update_resend(app)

    def update_resend(self, app) -> None:
        self.show_resend(app.code_resend_in())
