"""Questionnaire answers added after activation, from the card screen (issue 18): the questions the customer
has not answered yet -> the SMS code to the card's phone -> the answers queued as `update_customer`.

The card screen offers it when the shop asks questions the card's customer left unanswered (the look-up's
`answered` keys). The questions are the registration's own (`Questionnaire`, with its date picker and the
on-screen keyboard); the code is the customer's `identify` code, asked by card number so that the server
sends it to the card's phone, which this device never sees: whoever only holds the card, or a cashier with
their own phone, cannot change the customer's details. The operation goes to the durable outbox first and
syncs like every other (its id makes a retry a duplicate on the server).

A customer who just proved the card's phone through "Find my card" holds that code's token, still unspent:
their answers go with it, without a second SMS (`reusable_proof`).
"""

from __future__ import annotations

import time
from enum import Enum

from .code import CodeStep
from .outcome import Settling
from .questionnaire import Questionnaire

# The server keeps an `identify` token for the shop's token_ttl (10 minutes by default; a shop may shorten it, and
# /config says it as otp.token_seconds). A token is reused at most this long after the code was typed, and never
# closer than PROOF_MARGIN to the server's end of it (the answers still have to travel); past that a fresh code is
# asked for rather than the answers queued with a token the server would refuse.
PROOF_SECONDS = 180.0
PROOF_MARGIN = 20.0


def proof_seconds(config: dict | None) -> float:
    """How long after Find my card its token may carry answers, for this shop's /config."""
    otp = (config or {}).get("otp")
    token = otp.get("token_seconds") if isinstance(otp, dict) else None
    if not isinstance(token, int | float) or isinstance(token, bool) or token <= 0:
        return PROOF_SECONDS  # an older server says nothing: its default token_ttl is 10 minutes
    return max(0.0, min(PROOF_SECONDS, token - PROOF_MARGIN))


def reusable_proof(view, now: float | None = None, lifetime: float = PROOF_SECONDS) -> str | None:
    """The unspent token of the code the card's owner typed for its phone (Find my card), while still fresh."""
    if view is None or not view.own or not view.proof:
        return None
    if (time.time() if now is None else now) - view.fetched_at >= lifetime:
        return None
    return view.proof


class DetailsState(Enum):
    QUESTIONS = "questions"
    CODE = "code"
    DONE = "done"  # queued; `outcome` follows the server's answer (Settling)


def missing_fields(questionnaire: list[dict] | None, card: dict | None) -> list[dict]:
    """The shop's questions the card's customer has not answered. None for a card that is not active or a
    look-up without `answered` (an older server, the offline cache): nothing to offer then."""
    if not card or card.get("state") != "active" or not isinstance(card.get("answered"), list):
        return []
    answered = set(card["answered"])
    return [f for f in Questionnaire(questionnaire).fields if f["key"] not in answered]


class DetailsFlow(Settling):
    def __init__(self, backend, card_number: str, fields: list[dict], *, proof: str | None = None,
                 proof_until: float | None = None, clock=time.time) -> None:
        self.backend = backend
        self.proof = proof  # reusable_proof(): no code needed while it lasts
        self.proof_until = proof_until  # the customer may take their time over the questions: checked again then
        self.clock = clock
        self.used_proof = False
        self.card_number = card_number
        self.questions = Questionnaire(fields)
        self.state = DetailsState.QUESTIONS
        self.code: CodeStep | None = None
        self.error: str | None = None
        self.operation_id: str | None = None

    def finish_questions(self) -> DetailsState:
        """The last question answered: nothing given is nothing to send; else the code goes to the card's phone."""
        self.error = None
        if not self.questions.answers:
            self.error = "no_answers"
            return self.state
        if self.proof and self.proof_until is not None and self.clock() >= self.proof_until:
            self.proof = None  # it would reach the server too late: the code goes to the card's phone instead
        if self.proof:  # the phone was proven moments ago: one token, one use
            token, self.proof, self.used_proof = self.proof, None, True
            self._queue(token)
            return self.state
        self.code = CodeStep(self.backend, purpose="identify", card_number=self.card_number)
        if self.code.send():
            self.state = DetailsState.CODE
        else:
            self.error = self.code.error
        return self.state

    def back_to_questions(self) -> None:
        self.state, self.error = DetailsState.QUESTIONS, None
        self.questions.index = max(0, len(self.questions.fields) - 1)

    def press(self, key: str) -> None:
        """A numpad key: the code's digits at the code step, an answer's before it."""
        self.error = None
        if self.state is DetailsState.CODE and self.code is not None:
            self.code.press(key)
        elif self.state is DetailsState.QUESTIONS:
            self.questions.press(key)

    def resend(self) -> None:
        if self.code is not None and not self.code.send():
            self.error = self.code.error

    def submit_code(self) -> DetailsState:
        if self.code is None or not self.code.check():
            self.error = self.code.error if self.code else "code_expired"
            return self.state
        self._queue(self.code.token)
        return self.state

    def _queue(self, token: str) -> None:
        self.operation_id = self.backend.enqueue(
            "update_customer", {"card_number": self.card_number, "answers": dict(self.questions.answers)},
            verification_token=token)
        self.state, self.error = DetailsState.DONE, None
