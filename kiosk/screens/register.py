from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty

from ..flows.register import CODE_LENGTH
from ..i18n import _
from ..messages import attempts_left, message
from .base import KioskScreen
from .qr import qr_texture


class RegisterPhoneScreen(KioskScreen):
    phone_text = StringProperty("")
    consent = BooleanProperty(False)
    marketing = BooleanProperty(False)
    error = StringProperty("")

    def render(self, app) -> None:
        flow = app.register
        self.phone_text = flow.digits
        self.consent, self.marketing = flow.consent, flow.marketing
        self.error = message(flow.error)


class RegisterCodeScreen(KioskScreen):
    code_text = StringProperty("")
    masked_phone = StringProperty("")
    error = StringProperty("")
    resend_in = NumericProperty(0)
    resend_text = StringProperty("")

    def render(self, app) -> None:
        flow = app.register
        self.code_text = " ".join(flow.code.ljust(CODE_LENGTH, "•"))
        self.masked_phone = app.mask(flow.phone)
        self.error = " ".join(filter(None, [message(flow.error), attempts_left(flow.attempts_left)]))
        self.update_resend(app)

    def update_resend(self, app) -> None:
        self.resend_in = max(0, int(app.register_resend_in()))
        self.resend_text = (_("Send the code again in {seconds} s").format(seconds=self.resend_in)
                            if self.resend_in else _("Send the code again"))


class RegisterDoneScreen(KioskScreen):
    number = StringProperty("")
    qr_texture = ObjectProperty(None, allownone=True)

    def render(self, app) -> None:
        self.number = app.register.card_number or ""
        self.qr_texture = qr_texture(f"lk://card/{self.number}") if self.number else None
