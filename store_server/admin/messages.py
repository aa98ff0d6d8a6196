"""Words for the codes pages show: what was done, why something was refused, states, types, actions.

Codes come from the server's domain errors and the back office itself; unknown ones fall back to the
English message the error carried.
"""

from __future__ import annotations

from .i18n import N_

DONE = {
    "balance_corrected": N_("The balance was corrected."),
    "card_replaced": N_("The card was replaced. This is the new card."),
    "card_blocked": N_("The card is blocked."),
    "card_unblocked": N_("The card is unblocked."),
    "answers_saved": N_("The answers were saved."),
    "customer_erased": N_("The customer's personal data was erased."),
    "activation_approved": N_("The activation was approved and the welcome SMS sent."),
    "activation_approved_no_sms": N_("The activation was approved, but the welcome SMS could not be sent."),
    "activation_rejected": N_("The activation was rejected."),
    "device_revoked": N_("The device was revoked."),
    "account_created": N_("The account was created."),
    "account_unlocked": N_("The account was unlocked."),
    "account_shops_saved": N_("The account's shops were saved."),
    "password_changed": N_("Your password was changed. Other sessions of this account were signed out."),
    "language_saved": N_("The language was saved. The back office speaks it after every sign-in."),
    "sms_text_saved": N_("The text was saved. The next SMS of this kind uses it."),
    "sms_text_restored": N_("The built-in text is used again."),
    "public_names_saved": N_("The names were saved."),
}

ERRORS = {
    "bad_login": N_("Wrong name or password."),
    "account_locked": N_("This account is locked after too many wrong passwords. Try again later."),
    "too_many_logins": N_("Too many wrong passwords from this computer. Try again later."),
    "csrf": N_("The form expired or did not come from this page. Open the page again and repeat."),
    "owner_only": N_("Only the shop owner may do this."),
    "passwords_differ": N_("The two new passwords differ."),
    "unknown_language": N_("Choose one of the languages listed."),
    "password_too_short": N_("A password needs at least 10 characters."),
    "bad_password": N_("The current password is not right."),
    "bad_amount": N_("Enter the amount as a number, e.g. 50 or -12.50."),
    "reason_required": N_("Say why: the reason is required."),
    "insufficient_balance": N_("The balance cannot go below zero."),
    "card_not_found": N_("No such card."),
    "card_blocked": N_("The card is blocked. Unblock it first."),
    "card_replaced": N_("This card was replaced by a new one."),
    "card_not_active": N_("The card has no customer yet."),
    "card_not_free": N_("The new card must be a fresh card that is not activated."),
    "same_card": N_("The new card is the same as the old one."),
    "activation_pending": N_("The card waits for an activation review."),
    "phone_has_card": N_("The customer's other card is active. Block it first."),
    "confirm_number": N_("Type the card number to confirm."),
    "activation_decided": N_("This activation was already decided."),
    "activation_not_found": N_("No such activation."),
    "card_bound_to_other": N_("This card is bound to another phone."),
    "account_exists": N_("An account with this name exists already."),
    "bad_name": N_("An account name has 1 to 64 characters."),
    "owner_sees_all": N_("An owner sees every shop; limit an operator's account."),
    "unknown_shop": N_("No such shop."),
    "bad_role": N_("Choose a role."),
    "bad_answer": N_("An answer does not fit its question."),
    "bad_state": N_("Unknown state."),
    "not_found": N_("This page does not exist."),
    "import_empty": N_("Choose a CSV file; this one is empty."),
    "import_too_big": N_("The file is too big for the browser; import it with store-server import."),
    "import_not_text": N_("The file is not text in UTF-8, UTF-16 or Windows-1251. Save it as CSV UTF-8."),
}

# What is wrong with a line of a customer file (store_server/importer.py Problem codes and their values).
IMPORT_PROBLEMS = {
    "bad_header": N_("The first line must name at least the columns phone and card_number (found: %(found)s)."),
    "unknown_columns": N_("Unknown columns: %(columns)s."),
    "bad_phone": N_("The phone %(value)s is not a phone number."),
    "phone_twice": N_("The phone %(phone)s is also on line %(other)s."),
    "card_twice": N_("The card number %(card)s is also on line %(other)s."),
    "bad_answer": N_("%(column)s: the answer %(value)s does not fit the question."),
    "bad_yes_no": N_("%(column)s must be yes or no, not %(value)s."),
    "bad_balance": N_("The balance %(value)s is not an amount of money (write 125.50 or 125,50)."),
    "negative_balance": N_("The balance %(value)s is negative; an opening balance cannot be."),
    "huge_balance": N_("The balance %(value)s is more than any card can hold."),
    "no_card": N_("card_number is empty."),
    "unknown_card": N_("The card %(card)s does not exist; issue its range first."),
    "card_format": N_("%(card)s does not fit this shop's card numbers (card_rules: %(format)s)."),
    "card_not_free": N_("The card %(card)s is already activated or blocked."),
    "known_phone": N_("The phone %(phone)s is already a customer."),
    "long_extra": N_("The extra number %(card)s is longer than 32 characters."),
    "extra_taken": N_("The extra number %(card)s is already a card number."),
    "card_taken": N_("The card %(card)s was activated meanwhile."),
    "opening_refused": N_("The opening balance was refused: %(detail)s"),
    "taken_meanwhile": N_("A phone or card of this file was taken while importing."),
    "crashed": N_("The import failed on the server; the log says why."),
}


def problem(gettext, code: str, values: dict, fallback: str = "") -> str:
    """A line's problem in the reader's language; values shown as the file had them."""
    message = IMPORT_PROBLEMS.get(code)
    if message is None:
        return fallback or code
    from loyalty_common.phones import mask

    # Phones are masked on every screen, also those of a file the owner uploaded.
    shown = {k: mask(str(v)) if k == "phone" or (k == "value" and code == "bad_phone") else v
             for k, v in values.items()}
    shown = {k: (repr(v) if k == "value" else v) for k, v in shown.items()}
    try:
        return gettext(message) % shown
    except (KeyError, TypeError, ValueError):
        return fallback or gettext(message)


IMPORT = {
    "checked": N_("checked, not imported"),
    "running": N_("importing…"),
    "done": N_("imported"),
    "failed": N_("failed, nothing imported"),
}

STATES = {
    "issued": N_("not activated"),
    "active": N_("active"),
    "blocked": N_("blocked"),
    "replaced": N_("replaced"),
    "pending": N_("waiting"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "applied": N_("applied"),
}

TYPES = {
    "sale": N_("sale"),
    "redeem": N_("bonus payment"),
    "return": N_("return"),
    "cancel": N_("cancellation"),
    "register": N_("registration"),
    "update_customer": N_("questionnaire"),
    "adjust": N_("balance correction"),
    "opening": N_("opening balance"),
    "replace": N_("card replacement"),
    "expire": N_("bonus expiry"),
    "activation_approved": N_("activation approved"),
    "activation_rejected": N_("activation rejected"),
}

LEDGER = {
    "accrual": N_("accrual"),
    "redemption": N_("spent"),
    "reversal": N_("reversal"),
    "return_refund": N_("refund on return"),
    "return_take": N_("taken back on return"),
    "expiry": N_("expired"),
    "adjustment": N_("correction"),
    "opening": N_("opening balance"),
    "transfer_out": N_("moved to new card"),
    "transfer_in": N_("moved from old card"),
}

ACTIONS = {
    "sign_in": N_("signed in"),
    "sign_out": N_("signed out"),
    "password_changed": N_("changed the password"),
    "balance_corrected": N_("corrected a balance"),
    "card_replaced": N_("replaced a card"),
    "card_blocked": N_("blocked a card"),
    "card_unblocked": N_("unblocked a card"),
    "answers_edited": N_("edited answers"),
    "data_exported": N_("exported personal data"),
    "customer_erased": N_("erased personal data"),
    "journal_exported": N_("exported the journal"),
    "report_exported": N_("exported a report"),
    "activation_approved": N_("approved an activation"),
    "activation_rejected": N_("rejected an activation"),
    "enrolment_token_created": N_("created an enrolment token"),
    "device_revoked": N_("revoked a device"),
    "account_created": N_("created an account"),
    "account_unlocked": N_("unlocked an account"),
    "account_shops_set": N_("chose the shops of an account"),
    "sms_text_edited": N_("edited an SMS text"),
    "sms_text_restored": N_("restored a built-in SMS text"),
    "public_names_edited": N_("changed the shop's name in SMS"),
    "customers_imported": N_("imported customers"),
}

ROLES = {
    "owner": N_("owner"),
    "operator": N_("operator"),
    "entrance": N_("entrance kiosk"),
    "cashier": N_("till"),
    "admin": N_("back office"),
}

# The audit trail's details are stored under the code's names ("role": "owner"): said in the reader's language.
DETAILS = {
    "account": N_("account"), "activation": N_("activation"), "activation_codes": N_("activation codes"),
    "amount": N_("amount"), "balance": N_("balance"),
    "by": N_("grouped by"), "card_type": N_("card type"), "cards": N_("cards"), "combine": N_("combined"),
    "customer": N_("customer"), "customers": N_("customers"), "discount_percent": N_("discount, percent"),
    "ean13_prefix": N_("EAN-13 prefix"), "fields": N_("fields"), "hours": N_("hours"), "issued": N_("issued"),
    "job": N_("import"), "kind": N_("kind"), "min_turnover": N_("turnover from"), "moved": N_("moved"),
    "name": N_("name"), "new": N_("new"), "new_number": N_("new number"), "old": N_("old"),
    "opening_balances": N_("opening balances"), "operation": N_("operation"), "percent": N_("percent"),
    "priority": N_("priority"), "rate": N_("percent"), "reason": N_("reason"), "role": N_("role"),
    "rows": N_("rows"), "shop": N_("shop"), "shops": N_("shops"), "since": N_("from"), "text": N_("text"),
    "time_from": N_("from"), "time_to": N_("to"), "until": N_("to"), "valid_from": N_("valid from"),
    "valid_to": N_("valid to"), "value": N_("value"), "weekdays": N_("weekdays"),
}

# Codes among the details' values (a rule's and a card type's kind; roles are in ROLES).
KINDS = {"percent": N_("percent of the money paid"), "fixed": N_("a fixed bonus per receipt"),
         "bonus": N_("bonus"), "discount": N_("discount")}

# What the server did with a text a customer sent (store_server/messaging/activation.py's outcomes).
INBOUND = {
    "activated": N_("card activated"),
    "already_active": N_("card already active on this phone"),
    "no_number": N_("no card number in the text"),
    "unknown_card": N_("unknown card number"),
    "card_blocked": N_("card blocked"),
    "phone_has_card": N_("the phone has another card"),
    "card_other_phone": N_("card belongs to another phone"),
    "opted_out": N_("opted out (STOP)"),
    "bad_sender": N_("not from a phone number"),
    "card_needs_till": N_("to be activated at the till"),
    "activation_code_required": N_("activation code missing"),
    "activation_code_wrong": N_("wrong activation code"),
    "flagged": N_("a notice reported as not theirs (NO)"),
    "no_notice": N_("NO without a recent notice"),
}

TABLES = {"done": DONE, "error": ERRORS, "state": STATES, "type": TYPES, "ledger": LEDGER, "action": ACTIONS,
          "role": ROLES, "import": IMPORT, "detail": DETAILS, "kind": KINDS, "inbound": INBOUND}


def word(gettext, table: str, code: str | None, fallback: str | None = None) -> str:
    if not code:
        return ""
    message = TABLES[table].get(code)
    return gettext(message) if message else (fallback or code)


def _merge_setup_words() -> None:
    from . import setup_words

    for table, words in setup_words.TABLES.items():
        TABLES.setdefault(table, {}).update(words)


_merge_setup_words()
