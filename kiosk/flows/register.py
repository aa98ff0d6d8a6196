"""Self-registration: phone on a numpad -> consent -> SMS code -> the card is active on that phone.

Plain state machine: screens send events (digits, submit, cancel) and draw `state`; nothing here knows
about Kivy. Network calls happen inside events, so the app runs events off the UI thread.
"""

from __future__ import annotations

from enum import Enum

from loyalty_common.phones import e164_or_none

from .. import i18n
from ..backend import Backend
from ..client import BadResponse, ServerRefused, ServerUnreachable
from .cashier import refresh_shop_config
from .outcome import Settling
from .questionnaire import Questionnaire

CODE_LENGTH = 6
MAX_PHONE_DIGITS = 15  # E.164


class RegisterState(Enum):
    PHONE = "phone"
    QUESTIONS = "questions"
    CODE = "code"
    TERMS = "terms"  # the shop's terms on screen, to read before accepting
    DONE = "done"
    OWN_CARD = "own_card"  # the phone already has an active card: `own_view` is it, no second card is made


class RegisterFlow(Settling):
    def __init__(self, backend: Backend, *, card_number: str | None = None,
                 questionnaire: list[dict] | None = None, at_till: bool = False) -> None:
        self.backend = backend
        # At the till the customer accepts the terms by telling the cashier the SMS code (its text says so, and
        # the server records the consent from it): nobody taps "I accept" on the customer's behalf.
        self.at_till = at_till
        self.questions = Questionnaire(questionnaire)
        self.card_number = card_number
        # The card's page on the server (SMS link), for the done screen's QR; None: the shop has no public_url.
        self.card_link: str | None = None
        self.state = RegisterState.PHONE
        self.digits = ""  # what the customer typed, national or international
        self.code = ""
        self.consent = False
        self.marketing = False
        self.phone: str | None = None  # E.164 once valid
        self.challenge: dict | None = None
        self.error: str | None = None
        self.attempts_left: int | None = None
        self.operation_id: str | None = None
        self.own_view = None  # CardView of the phone's card when it has one (OWN_CARD)
        # At a till whose right is "review" the registration only asks an operator to activate the card.
        self.pending_review = False

    # phone step ---------------------------------------------------------------------------------
    def press(self, key: str) -> None:
        """A numpad key: '0'-'9', '+', 'back' or 'clear'; goes to the phone or the code by state."""
        self.error = None
        if self.state is RegisterState.QUESTIONS:
            self.questions.press(key)
            return
        field = "digits" if self.state is RegisterState.PHONE else "code"
        value = getattr(self, field)
        limit = MAX_PHONE_DIGITS + 1 if field == "digits" else CODE_LENGTH
        if key == "back":
            value = value[:-1]
        elif key == "clear":
            value = ""
        elif key == "+" and field == "digits" and not value:
            value = "+"
        elif key.isdigit() and len(key) == 1 and len(value) < limit:
            value += key
        setattr(self, field, value)

    def normalised_phone(self) -> str | None:
        return e164_or_none(self.digits, self.backend.country)

    def toggle_consent(self) -> None:
        self.consent = not self.consent
        self.error = None

    def read_terms(self) -> None:
        self.state, self.error = RegisterState.TERMS, None

    def accept_terms(self) -> None:
        self.consent, self.state = True, RegisterState.PHONE

    def decline_terms(self) -> None:
        self.consent, self.state = False, RegisterState.PHONE

    def toggle_marketing(self) -> None:
        self.marketing = not self.marketing

    def submit_phone(self) -> RegisterState:
        phone = self.normalised_phone()
        if phone is None:
            self.error = "invalid_phone"
            return self.state
        if not self.consent and not self.at_till:
            self.error = "consent_required"
            return self.state
        self.phone = phone
        if self.questions.fields and not self.questions.done:
            self.state = RegisterState.QUESTIONS
            return self.state
        return self.finish_questions()

    def finish_questions(self) -> RegisterState:
        """After the last question (or none): the SMS code is asked for."""
        if self.phone is None or not self.questions.done:
            return self.state
        if self._ask_for_code():
            self.state = RegisterState.CODE
        return self.state

    def resend(self) -> None:
        if self.state is RegisterState.CODE:
            self._ask_for_code()

    def _ask_for_code(self) -> bool:
        try:
            self.challenge = self.backend.request_code(self.phone, "register", card_number=self.card_number)
        except ServerRefused as e:
            self.error = e.code
            return False
        except (ServerUnreachable, BadResponse):
            # Registration needs the SMS now; say so plainly rather than queue something half-done.
            self.error = "server_unreachable"
            return False
        self.code, self.error, self.attempts_left = "", None, None
        return True

    # after the code -------------------------------------------------------------------------------
    @property
    def refused(self) -> bool:
        return self.outcome is not None and self.outcome.status == "refused"

    def settle(self) -> bool:
        """The done screen is shown as soon as the operation is queued; the server's answer then says
        whether the card really is active, waits for the shop's approval, or was refused (the phone got
        another card meanwhile, ...)."""
        if not super().settle():
            return False
        if self.outcome.status == "refused":
            self.error = self.outcome.error
        elif self.outcome.result is not None:
            self.pending_review = bool(self.outcome.result.get("pending_review"))
        return True

    # code step ----------------------------------------------------------------------------------
    def submit_code(self) -> RegisterState:
        if len(self.code) != CODE_LENGTH:
            self.error = "code_incomplete"
            return self.state
        try:
            verified = self.backend.check_code(self.challenge["challenge_id"], self.code)
        except ServerRefused as e:
            self.error, self.attempts_left, self.code = e.code, e.details.get("attempts_left"), ""
            return self.state
        except (ServerUnreachable, BadResponse):
            self.error = "server_unreachable"
            return self.state
        own = verified.get("own_card")
        if isinstance(own, dict) and own.get("number"):
            # "Join" from a phone that has a card: the code proved the phone, so its owner sees that card
            # (a card in hand to activate besides it would only be refused: the screen says why)
            self.own_view = self.backend.own_card(own)
            self.error = ("phone_has_card" if self.card_number and self.card_number != own["number"]
                          else "already_have_card")
            self.state = RegisterState.OWN_CARD
            return self.state
        self.card_number = verified.get("card_number") or self.card_number
        link = verified.get("card_link")
        self.card_link = link if isinstance(link, str) and link.startswith(("http://", "https://")) else None
        self.operation_id = self.backend.enqueue(
            "register",
            {"phone": self.phone, "card_number": self.card_number, "consent": self.consent or self.at_till,
             "marketing": self.marketing, **({"answers": self.questions.answers} if self.questions.answers else {}),
             # the welcome SMS comes in the language the customer chose on the screen, as the code did
             "lang": i18n.language()},
            verification_token=verified["verification_token"],
        )
        # The operation is queued, not answered, so the till's right (/config; an entrance kiosk's is always
        # "direct") says what the server will do with it. The server answered the code a moment ago, so it
        # is asked again rather than trusting the copy from enrolment; the copy when it no longer answers.
        self.pending_review = refresh_shop_config(self.backend).get("till_activation") == "review"
        self.state = RegisterState.DONE
        return self.state


def terms_text(config: dict, lang: str) -> str | None:
    """The shop's terms (GET /config `terms`, one text per language) in `lang`, else in the first language
    that has them; None when the shop wrote none."""
    terms = config.get("terms")
    if not isinstance(terms, dict):
        return None
    texts = {k: v for k, v in terms.items() if isinstance(v, str) and v.strip()}
    return texts.get(lang) or next(iter(texts.values()), None)
