from __future__ import annotations

from kivy.factory import Factory
from kivy.metrics import sp
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.utils import escape_markup

from ..flows.cashier import shop_config
from ..flows.date_picker import month_names, part_order
from ..flows.questionnaire import label
from ..flows.register import CODE_LENGTH, terms_text
from ..i18n import _
from ..messages import attempts_left, message, question_error
from .base import CodeEntryScreen, KioskScreen
from .format import phone_as_typed
from .qr import qr_texture
from .theme import THEME


class RegisterPhoneScreen(KioskScreen):
    phone_text = StringProperty("")
    consent = BooleanProperty(False)
    marketing = BooleanProperty(False)
    error = StringProperty("")

    consent_text = StringProperty("")
    marketing_text = StringProperty("")
    at_till = BooleanProperty(False)

    def render(self, app) -> None:
        flow = app.register
        self.phone_text = phone_as_typed(flow.digits, app.backend.country)  # grouped while typed
        self.consent, self.marketing, self.at_till = flow.consent, flow.marketing, flow.at_till
        # the state in words and a box ticked or not, never by colour alone
        self.consent_text = choice(app, flow.consent, _("Programme terms: accepted"),
                                   _("Programme terms: not accepted yet. Tap to read them"))
        self.marketing_text = choice(app, flow.marketing, _("Offers by SMS: yes"), _("Offers by SMS: no (optional)"))
        # set each time: a toggle flips itself when tapped, and the terms may come back not accepted
        self.ids.consent.state = "down" if flow.consent else "normal"
        self.ids.marketing.state = "down" if flow.marketing else "normal"
        shown, hidden = (self._till_consent, self._consent) if flow.at_till else (self._consent, self._till_consent)
        if hidden.parent is not None:
            box = hidden.parent
            box.remove_widget(hidden)
            box.add_widget(shown, index=len(box.children))  # first, before the offers toggle
        self.error = message(flow.error)

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        # ids are weak: taken out of the layout, they must live on
        self._consent, self._till_consent = self.ids.consent.__self__, self.ids.till_consent.__self__
        self._till_consent.parent.remove_widget(self._till_consent)


def choice(app, on: bool, yes: str, no: str) -> str:
    """A toggle's text: a ticked or empty box (in a font that has them), then its state in words."""
    box = "\u2611" if on else "\u2610"
    return f"[font={app.symbol_font}]{box}[/font]  {yes if on else no}"


class RegisterTermsScreen(KioskScreen):
    """The shop's terms, scrollable, before the customer accepts them (or does not)."""

    text = StringProperty("")

    def render(self, app) -> None:
        self.text = terms_text(shop_config(app.backend), app.lang) or _(
            "The shop has not put its terms on this screen. Ask the staff for them before you accept.")
        self.ids.scroll.scroll_y = 1  # from the top, for each customer


class RegisterQuestionsScreen(KioskScreen):
    number = NumericProperty(1)
    total = NumericProperty(1)
    question = StringProperty("")
    kind = StringProperty("text")
    answer = StringProperty("")
    error = StringProperty("")
    required = BooleanProperty(False)

    def questions(self, app):
        """The questionnaire this screen asks: the registration's (kiosk/screens/details.py asks another's)."""
        return app.register.questions

    def render(self, app) -> None:
        questions = self.questions(app)
        field = questions.field
        if field is None:
            return
        self.number, self.total = questions.index + 1, len(questions.fields)
        self.question = label(field, app.lang)
        self.kind, self.required = field["type"], bool(field.get("required"))
        self.answer = questions.typed
        self.error = question_error(questions.error, questions.error_args)
        choices = self.ids.side
        choices.clear_widgets()
        self._date_parts(app, questions.date)
        if self.kind == "number":
            choices.add_widget(Factory.Numpad(extra="-"))
        elif self.kind == "date":
            picker = questions.date
            if picker.part == "month":
                choices.add_widget(self._months(app, picker.month))
            else:
                choices.add_widget(Factory.Numpad(extra=""))
        elif self.kind == "choice":
            for choice in field.get("choices") or []:
                button = Factory.RowButton(text=choice, halign="center")
                if choice == questions.typed:
                    button.background_color = THEME["GREEN_ON"]
                button.bind(on_release=lambda _b, c=choice: app.question_event("choose", c))
                choices.add_widget(button)
            choices.add_widget(Factory.Widget())


    def _date_parts(self, app, picker) -> None:
        """A date's day, month and year as three buttons in the language's order; the one being filled is
        lit, and a tap on another fills that one."""
        row = self.ids.date_parts
        row.clear_widgets()
        if picker is None:
            return
        picker.use_order(part_order(app.lang))  # the language may have changed since the last drawing
        names = month_names(app.lang)
        captions = {"day": _("Day"), "month": _("Month"), "year": _("Year")}
        for part in picker.order:
            caption = f"[size={int(app.scale * sp(16))}]{captions[part]}[/size]"
            button = Factory.DatePart()
            button.active = part == picker.part
            button.text = f"{caption}\n{escape_markup(picker.text(part, names)) or '–'}"
            button.size_hint_x = {"day": 0.8, "month": 1.5, "year": 1}[part]
            button.bind(on_release=lambda _b, p=part: app.question_event("date_part", p))
            row.add_widget(button)

    def _months(self, app, chosen: int | None):
        """Twelve buttons named as the language names the months; the one chosen is marked."""
        grid = Factory.MonthGrid()
        for number, name in enumerate(month_names(app.lang), start=1):
            button = Factory.MonthButton(text=name)
            if number == chosen:
                button.background_color = THEME["GREEN_ON"]
            button.bind(on_release=lambda _b, m=number: app.question_event("choose_month", m))
            grid.add_widget(button)
        return grid


class RegisterCodeScreen(CodeEntryScreen):
    masked_phone = StringProperty("")
    at_till = BooleanProperty(False)

    def render(self, app) -> None:
        flow = app.register
        self.at_till = flow.at_till
        self.code_text = " ".join(flow.code.ljust(CODE_LENGTH, "•"))
        self.masked_phone = app.mask(flow.phone)
        self.error = " ".join(filter(None, [message(flow.error), attempts_left(flow.attempts_left)]))
        self.update_resend(app)

    def update_resend(self, app) -> None:
        self.show_resend(app.register_resend_in())


class RegisterDoneScreen(KioskScreen):
    number = StringProperty("")
    qr_texture = ObjectProperty(None, allownone=True)
    qr_payload = StringProperty("")
    has_link = BooleanProperty(False)
    pending_review = BooleanProperty(False)
    refused = BooleanProperty(False)
    title = StringProperty("")
    body = StringProperty("")

    def render(self, app) -> None:
        flow = app.register
        self.number = flow.card_number or ""
        self.pending_review = flow.pending_review
        # shown as done at once; redrawn when the server's answer arrives (RegisterFlow.settle)
        self.refused = flow.refused
        if self.refused:
            self.title = _("Your card could not be activated")
            self.body = message(flow.error)
            self.qr_payload, self.qr_texture = "", None
            return
        self.title = (_("Thank you! Your card waits for the shop's approval.") if self.pending_review
                      else _("Welcome! Your card is active."))
        # With the shop's public_url the QR is the card's page, for the phone's camera (the same link the
        # welcome SMS carries); without it, the card number our scanners read, as before.
        self.has_link = bool(flow.card_link and self.number)
        self.body = (_("Scan the QR with your phone's camera: your card opens on the phone.") if self.has_link
                     else _("Bonuses are already collected on it: show this number or the QR code at the till.")
                     if self.pending_review else _("Show this number or the QR code at the till to collect bonuses."))
        payload = flow.card_link if self.has_link else f"lk://card/{self.number}" if self.number else ""
        if payload != self.qr_payload:  # drawn once, not on every redraw of the screen
            self.qr_payload = payload
            self.qr_texture = qr_texture(payload) if payload else None
