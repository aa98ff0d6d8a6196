"""Answers added from the card screen after activation (kiosk/flows/details.py): the registration's question
screen on the open questions, the code sent to the card's phone, a thank-you."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from ..flows.code import CODE_LENGTH
from ..i18n import _
from ..messages import attempts_left, message
from .base import CodeEntryScreen, KioskScreen
from .register import RegisterQuestionsScreen


class DetailsQuestionsScreen(RegisterQuestionsScreen):
    """register.kv's question screen (its rule applies to this subclass), asking the details flow's questions."""

    def questions(self, app):
        return app.details.questions


class DetailsCodeScreen(CodeEntryScreen):
    masked_phone = StringProperty("")
    at_till = BooleanProperty(False)

    def render(self, app) -> None:
        flow = app.details
        code = flow.code
        self.at_till = app.role == "cashier"
        self.code_text = " ".join(code.entry.text.ljust(CODE_LENGTH, "•"))
        # the server's masked phone: the card's, which this device never learns in full
        self.masked_phone = (code.challenge or {}).get("phone_masked") or ""
        self.error = " ".join(filter(None, [message(flow.error), attempts_left(code.attempts_left)]))
        self.update_resend(app)

    def update_resend(self, app) -> None:
        self.show_resend(app.code_resend_in())


class DetailsDoneScreen(KioskScreen):
    title = StringProperty("")
    body = StringProperty("")
    refused = BooleanProperty(False)

    def render(self, app) -> None:
        outcome = app.details.outcome
        self.refused = outcome is not None and outcome.status == "refused"
        if self.refused:
            self.title = _("Your details were not saved")
            self.body = message(outcome.error)
        else:
            self.title = _("Thank you!")
            self.body = (_("Your details are saved.") if outcome is not None and outcome.status == "done"
                         else _("Your details are saved on this kiosk and will reach the shop shortly."))
