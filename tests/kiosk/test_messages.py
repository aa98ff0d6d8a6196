"""Every error code the store server can send a device has words on the kiosk's screens, in every language.

The codes are read from store_server's source (each DomainError and subclass raised there), so a code the
server learns tomorrow fails this test until it gets a message here, or is listed below as one no device sees.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kiosk import i18n
from kiosk.messages import MESSAGES, message, till_sync_hint

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {"DomainError", "NotFound", "Unauthorised", "Forbidden", "TooMany"}
CODE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$|^conflict$")
# Raised only by the store-server admin CLI (card types, ranges, rules, tiers, settings) or by the SMS
# provider's webhooks: no device call leads there.
SERVER_ONLY = {"bad_card_type", "bad_range", "bad_state", "number_taken", "card_type_exists", "card_type_not_found",
               "tier_exists", "bad_tier", "bad_rule", "bad_time", "unknown_setting", "bad_ean13",
               "bad_report", "not_found", "unknown_message", "unknown_provider",
               # the operator's queue of till activations (approve / reject, per-device mode)
               "bad_till_activation", "device_not_found", "activation_not_found", "activation_decided",
               "reason_required",
               # server.toml's [limits] (a config error at start), the guard's setting names in its limits
               # loop, and the Twilio webhooks' signature check
               "bad_limits", "sms_shop_per_hour", "sms_shop_per_day", "signature_unverifiable", "bad_signature",
               # the store-server cashiers CLI, and the back office's own accounts (web pages, not devices)
               "badge_taken", "pin_taken", "cashier_not_found", "password_too_short", "password_too_long",
               "bad_name", "account_exists", "too_many_logins", "account_locked", "bad_login", "bad_password",
               "account_not_found",
               # the back office and CLI editors of rules, tiers, card types and ranges, shops and their settings,
               # operator accounts; devices move; an opening balance (admin role only); a bad database URL at start
               "owner_sees_all", "range_empty", "bad_percent", "bad_rule_dates", "bad_rule_value", "bad_priority",
               "tier_not_found", "bad_card_type_name", "range_not_found", "bad_database", "unknown_device",
               "card_has_history", "bad_rule_name", "bad_rule_window", "rule_not_found", "rule_deleted",
               "unknown_shop", "not_per_shop", "bad_shop_code", "bad_shop_name", "bad_language", "shop_exists",
               "shop_ambiguous", "bad_setting", "bad_tier_name",
               # a card range or an import line that cannot be one of the shop's cards (store_server/card_formats.py)
               "card_format"}
KIOSK_ONLY = {"server_unreachable", "bad_response", "not_ours", "code_incomplete", "number_missing",
              "already_have_card", "no_card_yet"}


def server_codes() -> dict[str, str]:
    """code -> the file that raises it. A code held in a variable (a loop over limits) counts every code-like
    string of that function; one passed on from another error (`e.code`) was counted where it was raised."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "store_server").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                name = getattr(call.func, "id", getattr(call.func, "attr", None))
                if name not in ERRORS or not call.args:
                    continue
                first = call.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(first.value, path.name)
                elif isinstance(first, ast.Name):
                    for const in ast.walk(func):
                        if isinstance(const, ast.Constant) and isinstance(const.value, str) and CODE.match(const.value):
                            found.setdefault(const.value, path.name)
    return found


def test_the_source_scan_finds_codes_raised_directly_and_through_a_variable():
    codes = server_codes()
    assert {"card_not_found", "wrong_code", "role_not_allowed"} <= set(codes)
    assert {"too_many_codes", "too_many_codes_today", "device_code_limit"} <= set(codes)  # the limits loop


def test_every_code_a_device_can_get_has_a_message():
    missing = {code: where for code, where in server_codes().items()
               if code not in MESSAGES and code not in SERVER_ONLY}
    assert not missing, f"give these a message in kiosk/messages.py: {missing}"


def test_the_kiosks_own_codes_have_messages_too():
    assert KIOSK_ONLY <= set(MESSAGES)


def test_the_server_only_list_holds_no_stale_codes():
    assert SERVER_ONLY <= set(server_codes())


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_message_is_translated(lang):
    try:
        i18n.set_language(lang)
        untranslated = [code for code, text in MESSAGES.items() if message(code) == text]
    finally:
        i18n.set_language("en")
    assert not untranslated, f"{lang}: {untranslated}"


def test_unknown_code_still_says_something():
    assert message("something_new") and message(None) == ""


def test_the_cashiers_sync_hint_names_only_what_is_there():
    assert till_sync_hint(0, 0) == ""
    assert till_sync_hint(3, 0) == "3 waiting to sync"
    assert till_sync_hint(2, 1) == "2 waiting to sync · 1 failed: call the technician"
