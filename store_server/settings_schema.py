"""Every shop setting in one table: its type, default, description and group, checked with pydantic.

The CLI (`store-server settings`), the server's start-up check and the back office all read this table, so a new
setting is one `Setting(...)` line below: its key, a type pydantic can check (add an AfterValidator for rules the
type cannot say), its default, what it means to a shop owner, and its group. `device=True` sends it to devices in
GET /config. `per_shop=True` lets one shop of a chain override the chain's value (store_server/shops.py resolves
shop -> chain -> default). Code reads a value with `shop.get(conn, key, shop=CODE)`; `shop.set_setting` checks
before it stores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AfterValidator, Field, StrictBool, StrictInt, TypeAdapter, ValidationError

from .errors import DomainError

# The groups a back office shows settings under, in this order.
GROUPS = {
    "shop": "Shop",
    "bonuses": "Bonuses and returns",
    "codes": "Codes and limits",
    "sms": "SMS",
    "privacy": "Privacy",
    "devices": "Devices",
}
LANGUAGES = ("uk", "en", "ru", "kk", "vi")  # what the kiosk's screens are translated into (kiosk/i18n)


def _region(value: str) -> str:
    value = value.upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not an ISO 3166 country code phonenumbers knows, e.g. UA, KZ, UZ, VN")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone name, e.g. Europe/Kyiv, Asia/Almaty") from None
    return value


def _phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, "UA")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ValueError(f"{value!r} is not a phone number, e.g. +380501234567")
    return value


def _currency(value: str) -> str:
    from babel.numbers import is_currency

    value = value.upper()
    if not is_currency(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code, e.g. UAH, KZT, UZS, VND")
    return value


def _e164(value: str) -> str:
    """A number the server can text as it is: with its +country code, stored in E.164."""
    from loyalty_common.phones import InvalidPhone, normalise

    try:
        return normalise(value, None)
    except InvalidPhone as e:
        raise ValueError(f"{value!r}: {e}; write it with its country code, e.g. +380501234567") from None


def _url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not a web address, e.g. https://loyalty.shop.example")
    return value.rstrip("/")


def _unique(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("a language is listed twice")
    return values


def _domain(check: Callable) -> Callable:
    """Wrap one of the ledger's own checks (which raise DomainError) as a pydantic validator."""
    def run(value):
        try:
            check(value)
        except DomainError as e:
            raise ValueError(e.message) from None
        return value
    return run


def _questionnaire(value):
    from .customers import check_questionnaire
    return _domain(check_questionnaire)(value)


def _card_rules(value: dict) -> dict:
    """The kiosk's CardRules read it (loyalty_common/cards.py); a `sample` must be a card by these rules."""
    from loyalty_common.cards import WHY, CardRules, read_number

    try:
        rules = CardRules.from_config(value, where="card_rules")
    except ValueError as e:
        raise ValueError(str(e).removeprefix("card_rules: ")) from None
    sample = value.get("sample")
    if sample is not None:
        if not isinstance(sample, str):
            raise ValueError("sample is a number printed on the shop's cards, in quotes, e.g. \"LK10001\"")
        number, reason = read_number(sample, rules)
        if number is None:
            raise ValueError(f"the sample {sample!r} is not a card by these rules: {WHY[reason]} "
                             f"({rules.describe()})")
    return value


def _otp(value):
    from .messaging.codes import OtpPolicy
    return _domain(OtpPolicy.from_settings)(value)


Text = Annotated[str, Field(min_length=1, max_length=200)]
Count = Annotated[StrictInt, Field(ge=0)]
Country = Annotated[str, AfterValidator(_region)]
Language = Literal[LANGUAGES]  # type: ignore[valid-type]
CodeRequired = dict[Literal["redeem", "discount", "return", "sale", "identify"], StrictBool]


@dataclass(frozen=True)
class Setting:
    key: str
    type: Any
    default: Any
    description: str
    group: str
    device: bool = False  # devices get it in GET /config
    per_shop: bool = False  # a shop of the chain may have its own value (`settings set --shop CODE KEY VALUE`)

    @property
    def adapter(self) -> TypeAdapter:
        return _adapters(self)



SETTINGS: tuple[Setting, ...] = (
    Setting("public_name", Text, "Demo Shop", "the shop's name on screens, card pages and SMS", "shop",
            device=True, per_shop=True),
    Setting("country", Country, "UA", "country code: how a phone number without +country is read", "shop",
            device=True, per_shop=True),
    Setting("languages", Annotated[list[Language], Field(min_length=1), AfterValidator(_unique)],
            ["uk", "en", "ru", "kk"], "languages customers can choose, the first is the default", "shop",
            device=True, per_shop=True),
    Setting("timezone", Annotated[str, AfterValidator(_timezone)], "Europe/Kyiv",
            "the shop's time zone: rule windows and dates are read in it", "shop", per_shop=True),
    Setting("currency", Annotated[str, AfterValidator(_currency)] | None, None,
            "ISO 4217 code money is shown in (none: the legal tender of the country)", "shop"),
    Setting("public_url", Annotated[str, AfterValidator(_url)] | None, None,
            "the address customers' phones reach the server at; set, SMS and the kiosk carry card page links",
            "shop"),
    Setting("questionnaire", Annotated[list[dict], AfterValidator(_questionnaire)], [],
            "questions at registration: {key, label, type: text|number|date|choice, choices?, required?, "
            "min_age? (a date field: the youngest age in years)}",
            "devices", device=True, per_shop=True),
    # the customer reads them on the kiosk before accepting (one text per language; the kiosk falls back to the
    # shop's first language that has one)
    Setting("terms", dict[Language, Annotated[str, Field(min_length=1, max_length=20000)]], {},
            "the loyalty programme's terms customers read and accept at registration, per language, "
            "e.g. {\"uk\": \"...\", \"en\": \"...\"}", "devices", device=True, per_shop=True),
    # The kiosk's [cards] table as a shop setting: devices get it in /config and read scans with it; the server
    # checks card ranges, the import and look-ups against it. None: devices keep their kiosk.toml [cards] and the
    # server takes any number (docs/server.md "Card formats").
    Setting("card_rules", Annotated[dict[str, Any], AfterValidator(_card_rules)] | None, None,
            "the shop's card numbers: {min_length, max_length, first_number, prefixes, text_prefix, luhn, "
            "ean_lengths, leading_zeros, sample} as in kiosk.toml [cards] (none: each kiosk's own [cards])",
            "devices", device=True, per_shop=True),
    Setting("till_activation", Literal["direct", "review", "off"], "direct",
            "a cashier's activation of a card: at once, after an operator's approval, or refused", "devices",
            per_shop=True),
    Setting("code_required", CodeRequired, {"redeem": True, "discount": False, "return": True},
            "which operations need the customer's SMS code", "codes",
            device=True, per_shop=True),
    Setting("no_code_limit", Count, 0, "bonuses (minor units) that may be spent without a code", "codes",
            device=True, per_shop=True),
    Setting("otp", Annotated[dict[str, StrictInt], AfterValidator(_otp)] | None, None,
            "code send limits over server.toml [otp], e.g. {\"sends_per_phone_day\": 5}", "codes", per_shop=True),
    Setting("sms_countries", Annotated[list[Country], Field(min_length=1)] | None, None,
            "countries whose mobile numbers may get codes besides the shop's own country (docs/sms.md, pumping "
            "guard)",
            "codes", per_shop=True),
    Setting("sms_shop_per_hour", Annotated[StrictInt, Field(ge=0)] | None, 100,
            "codes the whole shop may send in an hour (0 stops them all; none: no cap)", "codes", per_shop=True),
    Setting("sms_shop_per_day", Annotated[StrictInt, Field(ge=0)] | None, 500,
            "codes the whole shop may send in a day (0 stops them all; none: no cap)", "codes", per_shop=True),
    Setting("card_qr_minutes", Annotated[StrictInt, Field(ge=1, le=1440)], 10,
            "how long the QR on a card's page stays valid, minutes", "codes"),
    Setting("staff_phones", list[Annotated[str, AfterValidator(_phone)]], [],
            "the staff's phones, e.g. +380501234567,+380671234567; the fraud report looks for them", "codes"),
    Setting("identify_code_required", StrictBool, True,
            "the till's phone look-up needs the customer's identify code, sent to that phone", "codes",
            device=True, per_shop=True),
    Setting("transaction_sms", Literal["off", "money", "all"], "off",
            "notices with \"Not you? Reply NO\": off, money (operations that move bonuses) or all (every sale, "
            "return, cancel)", "sms", per_shop=True),
    Setting("inbound_replies_per_phone_hour", Annotated[StrictInt, Field(ge=0)], 3,
            "automatic replies to one phone's texts (activation, STOP) in an hour", "sms"),
    Setting("owner_phone", Annotated[str, AfterValidator(_e164)] | None, None,
            "texted once per window when a shop-wide cap stops codes, and when a customer answers NO to a notice",
            "sms", per_shop=True),
    Setting("return_shortfall", Literal["reduce_refund", "refuse"], "reduce_refund",
            "a return whose bonuses were already spent: take them from the refund, or refuse it", "bonuses",
            per_shop=True),
    Setting("bonus_payment_max_percent", Annotated[StrictInt, Field(ge=0, le=100)], 100,
            "the share of a receipt, after discount, that may be paid with bonuses, percent", "bonuses",
            device=True, per_shop=True),
    Setting("return_days", Annotated[StrictInt, Field(ge=0)] | None, 30,
            "days after a sale its goods may be returned or the sale cancelled, from any till (none: no limit)",
            "bonuses", device=True, per_shop=True),
    Setting("tier_period_days", Annotated[StrictInt, Field(ge=1, le=3660)], 365,
            "days of turnover that decide a customer's tier", "bonuses"),
    Setting("bonus_expiry_days", Annotated[StrictInt, Field(ge=1)] | None, None,
            "days after which unspent bonuses expire (none: never)", "bonuses"),
    Setting("next_digital_card", Annotated[StrictInt, Field(ge=1)], 9_000_000_001,
            "the number the next digital card gets", "bonuses"),
)

BY_KEY = {s.key: s for s in SETTINGS}
DEFAULTS = {s.key: s.default for s in SETTINGS}


def _adapters(setting: Setting, _cache: dict = {}) -> TypeAdapter:  # noqa: B006 - a per-process cache
    if setting.key not in _cache:
        _cache[setting.key] = TypeAdapter(setting.type)
    return _cache[setting.key]


def describe_type(setting: Setting) -> str:
    """A short human type: text, whole number, yes/no, list of uk|en|..., one of a|b, ... or none."""
    return _describe(setting.adapter.json_schema())


def _describe(schema: dict, defs: dict | None = None) -> str:
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return _describe(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        parts = [_describe(s, defs) for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = any(s.get("type") == "null" for s in schema["anyOf"])
        return " or ".join(parts) + (" or none" if nullable else "")
    if "enum" in schema:
        return "one of " + "|".join(map(str, schema["enum"]))
    if "const" in schema:
        return str(schema["const"])
    kind = schema.get("type")
    if kind == "array":
        return "list of " + _describe(schema.get("items", {}), defs)
    if kind == "object":
        props = schema.get("propertyNames", {})
        return "map" + (f" of {_describe(props, defs)} to {_describe(schema.get('additionalProperties', {}), defs)}"
                        if props else "")
    return {"string": "text", "integer": "whole number", "boolean": "yes/no", "number": "number"}.get(kind, "value")


class SettingError(DomainError):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__("bad_setting", f"{key}: {reason}")
        self.key = key


def spec(key: str) -> Setting:
    try:
        return BY_KEY[key]
    except KeyError:
        raise DomainError("unknown_setting", f"no setting {key!r}; known: {', '.join(BY_KEY)}") from None


def _reason(err: ValidationError) -> str:
    first = err.errors()[0]
    where = [f"item {p + 1}" if isinstance(p, int) else str(p) for p in first["loc"]
             if not str(p).startswith(("function-", "json-or-python", "lax-or-strict", "nullable"))
             and str(p) not in ("str", "int", "list", "dict", "bool", "[key]")]
    msg = first["msg"].removeprefix("Value error, ")
    return f"{msg} (at {'.'.join(where)})" if where else msg


def plain(value) -> str:
    """A value as `settings set` takes it back: `My Shop`, `500`, `uk,en`, `none`, JSON for maps."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str) and "," not in v for v in value) and value:
        return ",".join(value)
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def validate(key: str, value):
    """The value as it will be stored, or SettingError with the reason."""
    setting = spec(key)
    try:
        return setting.adapter.validate_python(value)
    except ValidationError as e:
        example = f"; e.g. {plain(setting.default)}" if setting.default not in (None, [], {}) else ""
        raise SettingError(key, _reason(e) + example) from None


def parse(key: str, text: str):
    """A value typed on the command line: plain (`My Shop`, `500`, `uk,en`, `none`) or JSON (`{"redeem": true}`)."""
    setting = spec(key)
    stripped = text.strip()
    candidates: list[tuple[object, bool]] = []  # (value, typed bare: "500", "yes" read by the key's type)
    if stripped.lower() in ("none", "null", ""):
        candidates.append((None, False))
    try:
        candidates.append((json.loads(stripped), False))
    except ValueError:
        pass
    candidates.append((stripped, True))
    if "," in stripped and not stripped.startswith(("[", "{")):
        candidates.append(([part.strip() for part in stripped.split(",") if part.strip()], False))
    elif not stripped.startswith(("[", "{")) and stripped:
        candidates.append(([stripped], False))  # a list of one: `languages uk`
    errors: list[SettingError] = []
    for value, bare in candidates:
        try:
            return validate(key, _from_cli(setting, value) if bare else value)
        except SettingError as e:
            errors.append(e)
    # The reading that had the right shape says most ("'de' is not one of ..." beats "not a list").
    raise next((e for e in errors if "should be a valid" not in e.message), errors[0])


def _from_cli(setting: Setting, value):
    # "500" typed for a whole number: the text means the number (pydantic's strict ints would refuse it).
    if isinstance(value, str) and value.lstrip("-").isdigit() and "integer" in json.dumps(
            setting.adapter.json_schema()):
        return int(value)
    yes_no = ("yes", "true", "no", "false")
    if isinstance(value, str) and value.lower() in yes_no and describe_type(setting) == "yes/no":
        return value.lower() in ("yes", "true")
    return value


def check_stored(stored: dict) -> list[str]:
    """Problems with settings as stored in the database (one line each); unknown keys are not problems."""
    problems = []
    for key, value in stored.items():
        if key in BY_KEY:
            try:
                validate(key, value)
            except SettingError as e:
                problems.append(e.message)
    return problems


PER_SHOP = tuple(s.key for s in SETTINGS if s.per_shop)


def spec_per_shop(key: str) -> Setting:
    setting = spec(key)
    if not setting.per_shop:
        raise DomainError("not_per_shop", f"{key} is the same in every shop of the chain; set it without --shop "
                                          f"(per shop: {', '.join(PER_SHOP)})")
    return setting


def listing(stored: dict) -> list[dict]:
    """Every setting with its group, type, value, default and whether the value is the default."""
    return [{"key": s.key, "group": s.group, "type": describe_type(s), "value": stored.get(s.key, s.default),
             "default": s.default, "is_default": stored.get(s.key, s.default) == s.default,
             "description": s.description, "device": s.device, "per_shop": s.per_shop} for s in SETTINGS]


def markdown_table() -> str:
    """The settings table of docs/server.md: `python -m store_server.settings_schema` prints it."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")
    lines = ["| key | group | type | default | meaning |", "|---|---|---|---|---|"]
    for group, title in GROUPS.items():
        lines += [f"| `{s.key}` | {title} | {cell(describe_type(s))} | `{cell(plain(s.default))}` | "
                  f"{cell(s.description)} |" for s in SETTINGS if s.group == group]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
