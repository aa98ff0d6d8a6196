"""The SMS texts in force: the owner's own (edited in the back office) or else the built-in ones of templates.py,
and the shop's public name per language.

An edited text is checked before it is kept: it may use only the placeholders its purpose fills in, and must
keep those every built-in language version has (a code text without {code} would send no code). Texts and names
are chain-wide (one per purpose and language); shops may override them later, resolved shop -> chain -> built-in.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from ... import clock
from ...data.db import public_names, sms_templates
from . import templates

MAX_TEXT = 1000  # characters; 7 parts in Cyrillic, far beyond what any shop sends
MAX_NAME = 64
# The texts the editor shows, in the order an owner meets them. "welcome_link" is the welcome when the shop has
# a public_url (the card page's link in place of the longer sentence).
PURPOSES = ("code_register", "code_identify", "code_redeem", "code_sale", "code_discount", "code_return", "code",
            "welcome", "welcome_link", "notice_accrual", "notice_redeem", "notice_sale", "notice_return",
            "notice_cancel", "notice_flagged", "opted_out", "activation_no_number", "activation_unknown_card",
            "activation_phone_has_card", "activation_card_other_phone", "activation_already_active",
            "activation_card_blocked", "activation_needs_till", "activation_code_required", "owner_alert",
            "pumping_alert")
# What each placeholder looks like in a real message: the editor counts the parts of the text as sent.
EXAMPLES = {"code": "483920", "amount": "1 250,00 ₴", "card": "1000000017", "other": "1000000025",
            "points": "25,00", "spent": "100,00", "balance": "1 325,50", "limit": "200",
            "link": "https://kava.example/c/Xb3kQ9mZt2LpW7", "phone": "+380 67 *** ** 45",
            "operation": "sale", "when": "26.11 14:05", "device": "Till 1", "cashier": "Iryna"}


def builtin(purpose: str, lang: str) -> str:
    texts = templates.WELCOME_WITH_LINK if purpose == "welcome_link" else templates.TEMPLATES[purpose]
    return texts.get(lang) or texts["en"]


def _names(text: str) -> list[str | None]:
    """The placeholders of a text as str.format reads them; raises ValueError on a stray brace, and on a
    conversion or format ({code!r}, {amount:>9}) that the built-in texts never use."""
    fields = []
    for _, field, spec, conversion in string.Formatter().parse(text):
        if field is not None:
            if spec or conversion:
                raise ValueError("only plain placeholders")
            fields.append(field)
    return fields


def placeholders(purpose: str) -> tuple[frozenset[str], frozenset[str]]:
    """(required, allowed) for a purpose: required are in every built-in version, allowed in any."""
    sets = [set(_names(builtin(purpose, lang))) for lang in templates.LANGUAGES]
    return frozenset(set.intersection(*sets)), frozenset(set.union(*sets))


@dataclass
class Problem(ValueError):
    """Why a text cannot be kept; the back office words it in the reader's language."""

    code: str  # empty | too_long | braces | unknown | missing
    names: tuple[str, ...] = ()


def check(purpose: str, text: str) -> str:
    """The text cleaned (line ends and outer spaces), or Problem."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise Problem("empty")
    if len(text) > MAX_TEXT:
        raise Problem("too_long", (str(MAX_TEXT),))
    try:
        fields = _names(text)
    except ValueError:
        raise Problem("braces") from None
    required, allowed = placeholders(purpose)
    unknown = sorted({f for f in fields if f not in allowed}, key=str)
    if unknown:
        raise Problem("unknown", tuple("{" + (f or "") + "}" for f in unknown))
    missing = sorted(required - set(fields))
    if missing:
        raise Problem("missing", tuple("{" + f + "}" for f in missing))
    return text


def examples(lang: str, currency: str, country: str = "") -> dict[str, str]:
    """Typical values written as the SMS write them in `lang`: money as otp.py and outbound.py format it."""
    from loyalty_common.money import format_money_sms, format_plain

    def plain(minor: int) -> str:
        return format_plain(minor, currency, lang, country).replace("\u00a0", " ").replace("\u202f", " ")

    return {**EXAMPLES, "amount": format_money_sms(125000, currency, lang, country), "points": plain(2500),
            "spent": plain(10000), "balance": plain(132550)}


def example(text: str, shop: str, values: dict[str, str] | None = None) -> str:
    """The text as a customer would get it, with example values (what the live count measures)."""
    try:
        return text.format(shop=shop, **(values or EXAMPLES))
    except (KeyError, IndexError, ValueError, AttributeError):
        return text


def custom(conn: Connection, purpose: str, lang: str) -> str | None:
    return conn.execute(select(sms_templates.c.text).where(sms_templates.c.purpose == purpose,
                                                           sms_templates.c.lang == lang)).scalar()


def all_custom(conn: Connection) -> dict[tuple[str, str], dict]:
    return {(r["purpose"], r["lang"]): dict(r) for r in conn.execute(select(sms_templates)).mappings()}


def in_force(conn: Connection, purpose: str, lang: str) -> str:
    """What goes out for this purpose and language: the owner's text, else the built-in one."""
    return custom(conn, purpose, lang) or builtin(purpose, lang)


def save(conn: Connection, purpose: str, lang: str, text: str, *, by: str) -> str:
    text = check(purpose, text)
    values = {"text": text, "updated_at": clock.now(), "updated_by": by}
    if conn.execute(update(sms_templates).where(sms_templates.c.purpose == purpose, sms_templates.c.lang == lang)
                    .values(**values)).rowcount == 0:
        conn.execute(insert(sms_templates).values(purpose=purpose, lang=lang, **values))
    return text


def restore(conn: Connection, purpose: str, lang: str) -> bool:
    """Back to the built-in text; False when it already was."""
    return conn.execute(delete(sms_templates).where(sms_templates.c.purpose == purpose,
                                                    sms_templates.c.lang == lang)).rowcount > 0


def names(conn: Connection) -> dict[str, str]:
    return {r.lang: r.name for r in conn.execute(select(public_names.c.lang, public_names.c.name))}


def public_name(conn: Connection, lang: str | None, default: str) -> str:
    """The shop's name as SMS in `lang` write it; the setting public_name when none was set."""
    name = conn.execute(select(public_names.c.name).where(public_names.c.lang == (lang or "en"))).scalar()
    return name or default


def save_name(conn: Connection, lang: str, name: str, *, by: str) -> None:
    """An empty name removes the language's own name (the setting public_name is used again)."""
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise Problem("name_too_long", (str(MAX_NAME),))
    if "{" in name or "}" in name:
        raise Problem("braces")
    conn.execute(delete(public_names).where(public_names.c.lang == lang))
    if name:
        conn.execute(insert(public_names).values(lang=lang, name=name, updated_at=clock.now(), updated_by=by))
