"""What the customer reads for each stable error code. Codes come from the server or the flows;
the words are chosen here, at the edge, in the current language."""

from __future__ import annotations

from .i18n import N_, _, ngettext

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
    "customer_not_found": N_("No active card for this phone number."),
    # a card QR from the customer's phone (the card's page)
    "card_qr_expired": N_("This card QR has expired. Refresh the card page on your phone and scan it again."),
    "card_qr_invalid": N_("This card QR is not valid. Open the card link from the SMS again."),
    "card_qr_offline": N_("A card QR from a phone cannot be checked while the shop's server is away. Type the "
                          "card number shown under the QR instead."),
    "number_missing": N_("Type the number first."),
    "not_ours": N_("This is not one of our cards."),
    # the server's word for it: a number its card_rules say cannot be ours (the look-up turns it into not_ours)
    "card_not_ours": N_("This is not one of our cards."),
    "card_blocked": N_("This card is blocked. Please ask at the till."),
    "card_replaced": N_("This card was replaced by a new one. Please use the new card or ask at the till."),
    "phone_has_card": N_("This phone already has another card."),
    "already_have_card": N_("This phone already has a card. Here it is."),
    "no_card_yet": N_("This phone has no card yet. Join now: it takes a minute."),
    "card_bound_to_other": N_("This card belongs to another phone."),
    "not_activated": N_("This card is not activated yet. Activate it to keep your bonuses safe."),
    "till_activation_off": N_("Cards cannot be activated at this till. The customer can activate at the entrance "
                              "kiosk or by SMS."),
    "activation_pending": N_("This card or phone already waits for the operator's approval."),
    "activation_waits_for_approval": N_("Activation waits for the shop's approval. Bonuses are already collected "
                                        "on this card."),
    "not_activated_cashier": N_("Card not activated. Tell the customer to tap \"Activate\" at the entrance "
                                "kiosk, or activate it here with their phone number."),
    # the till
    "bad_amount": N_("Enter an amount first."),
    "insufficient_balance": N_("The card does not have that many bonuses."),
    "return_too_large": N_("That is more than is left of this sale."),
    "bonuses_already_spent": N_("Refused: the customer has already spent the bonuses this purchase gave."),
    "already_returned": N_("Refused: goods of this sale were returned. Return the rest instead."),
    "already_cancelled": N_("This operation is already cancelled."),
    "not_cancellable": N_("Only a confirmed sale or payment with bonuses can be cancelled."),
    "sale_not_found": N_("No sale with this receipt. Check the number, or the sale is not on the server yet."),
    "sale_not_returnable": N_("Nothing of this sale can be returned any more."),
    "sale_not_cancellable": N_("This sale can no longer be cancelled. Make a return instead."),
    "return_period_over": N_("This sale is older than the shop's return period: it can no longer be returned or "
                             "cancelled."),
    "card_needs_till": N_("This card already has bonuses or purchases: it is activated at the till, with the card "
                          "in hand."),
    "same_card": N_("The new card is the same as the old one."),
    "card_not_free": N_("The new card must be a fresh card that is not activated yet."),
    "receipt_of_another_card": N_("This receipt belongs to another card."),
    "needs_server": N_("Returns and cancellations need the shop's server, which cannot be reached now. Nothing "
                       "was changed; try again in a minute."),
    "bonus_payment_needs_server": N_("Paying with bonuses needs the shop's server, which cannot be reached now."),
    "no_bonus_to_spend": N_("The card has no bonuses to spend on this receipt."),
    "bonus_payment_over_max": N_("That is more than can be paid with bonuses on this receipt."),
    "bonus_payment_over_cap": N_("That is more than can be paid with bonuses on this receipt."),
    # the cashier's sign-in
    "signin_needs_server": N_("Signing in needs the shop's server, which cannot be reached now. Try again in "
                              "a minute."),
    "cashier_pin_wrong": N_("Wrong PIN or unknown badge."),
    "cashier_locked": N_("Too many wrong PINs: locked for a while."),
    "cashier_blocked": N_("This cashier is blocked. Ask the shop owner."),
    "cashier_unknown": N_("The server does not know this cashier. Sign in again."),
    "cashier_required": N_("A cashier must be signed in for this."),
    "pin_required": N_("Type your PIN first."),
    "card_not_active": N_("This card is not activated, so no code can be sent. Activate it first."),
    "verification_impossible": N_("This card has no phone to send a code to. Activate it first."),
    "verification_required": N_("The customer's code is needed for this operation."),
    "verification_expired": N_("The confirmation expired. Please start again."),
    "verification_invalid": N_("The confirmation is not valid. Please start again."),
    "verification_used": N_("The confirmation is not valid. Please start again."),
    "verification_mismatch": N_("The amount changed after the code. Please start again."),
    "role_not_allowed": N_("This device is not allowed to do that."),
    "too_many_codes": N_("Too many codes for this phone. Please try later."),
    "too_many_codes_today": N_("Too many codes for this phone today. Please try tomorrow."),
    "device_code_limit": N_("This kiosk has sent too many codes this hour. Please try later or ask at the till."),
    "enrolment_token_without_role": N_("This enrolment code does not say what the device is. Ask for a new one."),
    "device_code_limit_today": N_("This kiosk has sent too many codes today. Please ask at the till."),
    # the SMS pumping guard (store_server/messaging/sms/guard.py)
    "phone_not_mobile": N_("Codes are sent to mobile numbers only. Please use your mobile phone number."),
    "phone_country_not_allowed": N_("Codes cannot be sent to numbers of this country. Please ask at the till."),
    "shop_code_limit": N_("The shop has sent too many codes for now. Please try later or ask at the till."),
    "shop_code_limit_today": N_("The shop has sent too many codes today. Please ask at the till."),
    "too_many_lookups": N_("Too many cards were looked up from this device. Please wait a minute."),
    # the outbox: refusals the technician sees under "failed"
    "id_reused": N_("Another operation already has this number. Update the kiosk."),
    "time_in_future": N_("The device's clock is ahead. Set the clock."),
    "time_too_old": N_("The device's clock is far behind. Set the clock."),
    "payload_too_large": N_("The operation is too large for the server."),
    "payload_too_deep": N_("The operation is too large for the server."),
    "phone_mismatch": N_("This is not the phone number the card belongs to."),
    "phone_required": N_("A phone number is needed for this."),
    "card_required": N_("Scan or type the card first."),
    "challenge_not_found": N_("This code request is unknown. Ask for a new code."),
    # the outbox: an operation the server could not take as it is (the technician sees them under "failed")
    "device_mismatch": N_("The operation belongs to another device."),
    # the outbox sets a conflicted operation aside (mark_results: anything not done is failed), so the text says so
    "conflict": N_("Someone changed the same card at the same moment. It was set aside; it can be sent again "
                   "from the list of failed operations."),
    "internal_error": N_("The server could not apply this operation. It was set aside; it can be sent again "
                         "from the list of failed operations."),
    "server_error": N_("The server kept failing on this operation. It was set aside; it can be sent again "
                       "from the list of failed operations."),
    "unknown_type": N_("The server does not know this kind of operation. Update the kiosk."),
    "batch_too_large": N_("Too many operations at once. They will be sent in smaller parts."),
    "bad_purpose": N_("The server does not know this kind of code. Update the kiosk."),
    "bad_request": N_("The server did not understand the request. Update the kiosk."),
    "bad_role": N_("A device is either an entrance kiosk or a till."),
    "bad_otp_setting": N_("The shop's code settings are broken. Please ask staff to fix them."),
    "bad_questionnaire": N_("The shop's questionnaire is broken. Please ask staff to fix it."),
    # the questionnaire
    "answer_required": N_("Please answer this question."),
    # "Add your details" from the card screen with every question skipped: nothing to send a code for
    "no_answers": N_("Answer at least one question, or go back to the card."),
    # the date picker (kiosk/flows/date_picker.py); date_impossible and date_too_young: question_error
    "date_incomplete": N_("Choose the day, the month and the year."),
    "year_incomplete": N_("Type the year with all four digits, e.g. 1985."),
    "date_future": N_("This date has not come yet. Please check the year."),
    "date_too_old": N_("That is more than 120 years ago. Please check the year."),
    "bad_number": N_("Enter a number."),
    "bad_choice": N_("Please choose one of the options."),
    "bad_answer": N_("Please check your answer."),
    # the technician
    "wrong_pin": N_("Wrong PIN."),
    "pin_locked": N_("Too many wrong PINs. Locked for a while."),
    "bad_pin": N_("A PIN has 4 to 8 digits."),
    "pin_is_default": N_("Choose a PIN other than the one every kiosk ships with."),
    "pins_differ": N_("The two PINs differ. Type the new PIN again."),
    "bad_enrolment": N_("The server address must start with http:// or https://, and the token is needed."),
    "enrolment_token_invalid": N_("The enrolment token is unknown or already used."),
    "enrolment_token_expired": N_("The enrolment token has expired. Create a new one on the server."),
    "device_revoked": N_("This device was revoked on the server. Enrol it again."),
    "device_key_invalid": N_("The server does not know this device. Enrol it again."),
    "no_device_key": N_("This device is not enrolled yet."),
    "config_not_written": N_("Enrolled, but kiosk.toml could not be written. Check the disk and enrol again."),
    "reset_not_confirmed": N_("Confirm the factory reset first."),
}


def message(code: str | None) -> str:
    if not code:
        return ""
    return _(MESSAGES.get(code, N_("Something went wrong. Please ask at the till.")))


def question_error(code: str | None, args: dict) -> str:
    """A questionnaire answer's problem, with what it names: the day the month does not have, the youngest age."""
    if code == "date_impossible":
        # the month is not named: uk/ru/kk would need it in another case ("у лютому")
        return _("This month has no day {day}. Please check the day.").format(day=args.get("day", ""))
    if code == "date_too_young" and args.get("age"):
        return ngettext("The programme is for customers aged {age} and over.",
                        "The programme is for customers aged {age} and over.", args["age"]).format(age=args["age"])
    return message(code)


def attempts_left(n: int | None) -> str:
    if n is None:
        return ""
    return ngettext("{n} attempt left", "{n} attempts left", n).format(n=n)


def till_sync_hint(pending: int, failed: int) -> str:
    """The cashier's small reminder that sales are still on this device, or that the server refused some
    (the technician's "failed operations" says which and why)."""
    parts = []
    if pending:
        parts.append(waiting_to_sync(pending))
    if failed:
        parts.append(ngettext("{n} failed: call the technician", "{n} failed: call the technician",
                              failed).format(n=failed))
    return " · ".join(parts)


def waiting_to_sync(n: int) -> str:
    # the same English for every number; Ukrainian, Russian and Kazakh need their own forms (1 операція, 2
    # операції, 5 операцій)
    return ngettext("{n} waiting to sync", "{n} waiting to sync", n).format(n=n)
