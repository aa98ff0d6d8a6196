"""The settings page's words: each setting's description (the same English as settings_schema.py, which the
CLI prints; tests/admin/test_settings_page.py keeps them equal) and the groups' titles, for translation."""

from __future__ import annotations

import re

from .i18n import N_

DESCRIPTIONS = {
    'public_name': N_("the shop's name on screens, card pages and SMS"),
    'country': N_('country code: how a phone number without +country is read'),
    'languages': N_('languages customers can choose, the first is the default'),
    'timezone': N_("the shop's time zone: rule windows and dates are read in it"),
    'currency': N_('ISO 4217 code money is shown in (none: the legal tender of the country)'),
    'public_url': N_("the address customers' phones reach the server at; set, SMS and the kiosk carry card page links"),
    'terms': N_("the loyalty programme's terms customers read and accept at registration, per language, "
                'e.g. {"uk": "...", "en": "..."}'),
    'questionnaire': N_('questions at registration: {key, label, type: text|number|date|choice, choices?, required?, '
                        'min_age? (a date field: the youngest age in years)}'),
    'card_rules': N_("the shop's card numbers: {min_length, max_length, first_number, prefixes, text_prefix, luhn, "
                     'ean_lengths, leading_zeros, sample} as in kiosk.toml [cards] (none: each kiosk\'s own [cards])'),
    'till_activation': N_("a cashier's activation of a card: at once, after an operator's approval, or refused"),
    'code_required': N_("which operations need the customer's SMS code"),
    'no_code_limit': N_('bonuses (minor units) that may be spent without a code'),
    'otp': N_('code send limits over server.toml [otp], e.g. {"sends_per_phone_day": 5}'),
    'sms_countries': N_("countries whose mobile numbers may get codes besides the shop's own country (docs/sms.md, "
                        'pumping guard)'),
    'sms_shop_per_hour': N_('codes the whole shop may send in an hour (0 stops them all; none: no cap)'),
    'sms_shop_per_day': N_('codes the whole shop may send in a day (0 stops them all; none: no cap)'),
    'card_qr_minutes': N_("how long the QR on a card's page stays valid, minutes"),
    'staff_phones': N_("the staff's phones, e.g. +380501234567,+380671234567; the fraud report looks for them"),
    'identify_code_required': N_("the till's phone look-up needs the customer's identify code, sent to that phone"),
    'transaction_sms': N_('notices with "Not you? Reply NO": off, money (operations that move bonuses) or all (every sale, return, cancel)'),  # noqa: E501
    'inbound_replies_per_phone_hour': N_("automatic replies to one phone's texts (activation, STOP) in an hour"),
    'owner_phone': N_('texted once per window when a shop-wide cap stops codes, and when a customer answers NO to a notice'),  # noqa: E501
    'return_shortfall': N_('a return whose bonuses were already spent: take them from the refund, or refuse it'),
    'bonus_payment_max_percent': N_('the share of a receipt, after discount, that may be paid with bonuses, percent'),
    'return_days': N_('days after a sale its goods may be returned or the sale cancelled, from any till (none: no limit)'),  # noqa: E501
    'tier_period_days': N_("days of turnover that decide a customer's tier"),
    'bonus_expiry_days': N_('days after which unspent bonuses expire (none: never)'),
    'next_digital_card': N_('the number the next digital card gets'),
}

GROUPS = {
    'shop': N_('Shop'),
    'bonuses': N_('Bonuses and returns'),
    'codes': N_('Codes and limits'),
    'sms': N_('SMS'),
    'privacy': N_('Privacy'),
    'devices': N_('Devices'),
}

# The words settings_schema.describe_type builds a type from ("list of uk|en|ru|kk|vi", "whole number or none").
TYPE_WORDS = {
    "list of": N_("list of"),
    "one of": N_("one of"),
    "map of": N_("map of"),
    "or none": N_("or none"),
    "whole number": N_("whole number"),
    "yes/no": N_("yes/no"),
    "text": N_("text"),
    "number": N_("number"),
    "value": N_("value"),
    "map": N_("map"),
    "or": N_("or"),
    "to": N_("to"),
}
_TYPE_WORD = re.compile(r"\b(" + "|".join(sorted(map(re.escape, TYPE_WORDS), key=len, reverse=True)) + r")\b")


def type_words(described: str, gettext) -> str:
    """A described type in the reader's language, word by word; the listed choices (uk|en|..., direct|review|off)
    are what is typed, and none of them is one of these words."""
    return _TYPE_WORD.sub(lambda m: gettext(TYPE_WORDS[m.group(1)]), described)
