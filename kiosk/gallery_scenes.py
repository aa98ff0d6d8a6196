"""The states each screen is drawn in for the gallery: the common case, and the longest texts it can show."""

from __future__ import annotations

import time
from collections.abc import Callable

from .backend import CardView
from .flows.identify import IdentifyState
from .flows.register import RegisterFlow, RegisterState
from .messages import message

HISTORY = [{"kind": "accrual", "amount": 1250, "at": "2026-11-20T10:00:00"},
           {"kind": "redemption", "amount": -5000, "at": "2026-11-18T17:30:00"},
           {"kind": "reversal", "amount": -300, "at": "2026-11-15T12:10:00"},
           {"kind": "accrual", "amount": 870, "at": "2026-11-11T09:45:00"},
           {"kind": "accrual", "amount": 15000, "at": "2026-11-02T19:05:00"}]


def card(state: str = "active", *, kind: str = "bonus", from_cache: bool = False) -> CardView:
    return CardView({"number": "10001", "state": state, "kind": kind, "discount_percent": 5 if kind == "discount"
                     else 0, "digital": False, "phone_masked": "+380 •• ••• •• 67" if state == "active" else None,
                     "balance": 1234567, "history": HISTORY if state == "active" else []},
                    from_cache, time.time() - 3600)


def _show_card(view: CardView) -> Callable:
    def setup(app) -> str:
        app.identify.view, app.identify.state = view, IdentifyState.CARD
        return "card"
    return setup


def _attract_notice(app) -> str:
    app.sm.get_screen("attract").notice = message("server_unreachable")
    return "attract"


def _register(state: RegisterState, **fields) -> Callable:
    def setup(app) -> str:
        flow = RegisterFlow(app.backend)
        flow.state = state
        for key, value in fields.items():
            setattr(flow, key, value)
        app.register = flow
        return {RegisterState.PHONE: "register_phone", RegisterState.CODE: "register_code",
                RegisterState.DONE: "register_done"}[state]
    return setup


def scenes() -> list[tuple[str, Callable]]:
    return [
        ("attract", lambda app: "attract"),
        ("attract-notice", _attract_notice),
        ("card", _show_card(card())),
        ("card-discount-offline", _show_card(card(kind="discount", from_cache=True))),
        ("card-not-activated", _show_card(card("issued"))),
        ("register-phone", _register(RegisterState.PHONE)),
        ("register-phone-error", _register(RegisterState.PHONE, digits="+38050123456789", consent=True,
                                           marketing=True, error="consent_required")),
        ("register-code", _register(RegisterState.CODE, phone="+380501234567", code="1234",
                                    error="too_many_attempts", attempts_left=2)),
        ("register-done", _register(RegisterState.DONE, card_number="9000000001")),
    ]
