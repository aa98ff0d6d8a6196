"""What the customer reads for each stable error code. Codes come from the server or the flows;
the words are chosen here, at the edge, in the current language."""

from __future__ import annotations

from .i18n import N_, _

MESSAGES = {
    "invalid_phone": N_("This phone number does not look right. Please check it."),
    "consent_required": N_("Please accept the loyalty programme terms to continue."),
    "server_unreachable": N_("The shop's server cannot be reached right now. Please try again in a minute "
                             "or ask at the till."),
    "bad_response": N_("The shop's server gave an unexpected answer. Please ask at the till."),
    "code_incomplete": N_("The code has 6 digits."),
    "wrong_code": N_("That code is not right."),
    "code_expired": N_("The code has expired. Ask for a new one."),
    "too_many_attempts": N_("Too many wrong codes. Ask for a new one."),
    "code_used": N_("This code was already used. Ask for a new one."),
    "resend_too_soon": N_("A code was sent moments ago. Please wait a little."),
    "sms_failed": N_("We could not send the SMS. Please try again later."),
    "card_not_found": N_("This card is not one of ours."),
    "not_ours": N_("This is not one of our cards."),
    "card_blocked": N_("This card is blocked. Please ask at the till."),
    "phone_has_card": N_("This phone already has another card."),
    "card_bound_to_other": N_("This card belongs to another phone."),
    "not_activated": N_("This card is not activated yet. Activate it to keep your bonuses safe."),
    "not_activated_cashier": N_("Card not activated. Tell the customer to tap \"Activate\" at the entrance "
                                "kiosk, or activate it here with their phone number."),
}


def message(code: str | None) -> str:
    if not code:
        return ""
    return _(MESSAGES.get(code, N_("Something went wrong. Please ask at the till.")))


def attempts_left(n: int | None) -> str:
    if n is None:
        return ""
    return _("Attempts left: {n}").format(n=n)
