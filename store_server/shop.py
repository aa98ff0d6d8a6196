"""Shop-wide settings kept in the database (so the admin CLI can change them while the server runs)."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from . import clock
from .cards import issue_range
from .db import cards, rules, settings

DEFAULTS: dict = {
    "public_name": "Demo Shop",
    "country": "UA",
    "languages": ["uk", "en", "ru", "kk"],
    "questionnaire": [],
    # Which operations need the customer's SMS code, and the write-off below which none is needed.
    "code_required": {"redeem": True, "discount": False, "return": True},
    "no_code_limit": 0,
    "next_digital_card": 9_000_000_001,
    # Rule windows (time of day, weekday, validity dates) are read in the shop's own time.
    "timezone": "Europe/Kyiv",
    # A return whose accrual was already spent: "reduce_refund" pays the shortfall out of the money
    # refund, "refuse" rejects the return with bonuses_already_spent.
    "return_shortfall": "reduce_refund",
    "tier_period_days": 365,
    "bonus_expiry_days": None,  # None: bonuses never expire
    "otp": None,  # code limits over server.toml [otp] (store_server/otp.py reads it)
    # A cashier's activation of a card: "direct" binds at once, "review" waits for an operator's approval,
    # "off" refuses it; `store-server devices till-activation` overrides it per till (till_activation.py).
    "till_activation": "direct",
    # The digital card's page (store_server/digital_card.py): the base URL customers' phones reach the server
    # at (None: no links, the kiosk shows the card number's QR), and how long a card QR on the page is valid.
    "public_url": None,
    "card_qr_minutes": 10,
    # The till's receipt (store_server/receipts.py): the share of a receipt, after discount, that may be paid
    # with bonuses, and how many days after a sale its goods may come back (None: no limit).
    "bonus_payment_max_percent": 100,
    "return_days": 30,
    # Looking a customer up by phone at the till needs the code sent to that phone (an `identify` token).
    "identify_code_required": True,
    # Transaction notices: "off", "money" (operations that move bonuses) or "all" (every sale, return, cancel).
    "transaction_sms": "off",
    # Phones of the shop's staff (the fraud report looks for them), and the owner's phone for NO replies.
    "staff_phones": [],
    "owner_phone": None,
    # ISO 4217 code the back office shows money in; None: the legal tender of `country` (Babel knows it).
    "currency": None,
    # The SMS pumping guard (store_server/sms/guard.py): the countries codes may go to (None: the shop's
    # country), the shop-wide caps on codes (owner_phone is texted when one is hit), replies to inbound texts.
    "sms_countries": None,
    "sms_shop_per_hour": 100,
    "sms_shop_per_day": 500,
    "inbound_replies_per_phone_hour": 3,
}


def check(key: str, value, country: str = "UA") -> None:
    """Refuses a value the server could not use, before it is stored (`settings set`)."""
    from .errors import DomainError

    def bad(what: str) -> DomainError:
        return DomainError("bad_setting", f"{key} must be {what}")

    whole = isinstance(value, int) and not isinstance(value, bool)
    if key == "bonus_payment_max_percent" and not (whole and 0 <= value <= 100):
        raise bad("a whole percent 0..100")
    if key == "return_days" and value is not None and not (whole and value >= 0):
        raise bad("a number of days (or null: no limit)")
    if key == "identify_code_required" and not isinstance(value, bool):
        raise bad("true or false")
    if key == "transaction_sms" and value not in ("off", "money", "all"):
        raise bad('"off", "money" or "all"')
    if key == "staff_phones" and not (isinstance(value, list) and all(isinstance(p, str) for p in value)):
        raise bad('a list of phone numbers, e.g. ["+380501234567"]')
    if key == "owner_phone" and value is not None and not isinstance(value, str):
        raise bad('a phone number such as "+380501234567", or null')
    if key in ("staff_phones", "owner_phone") and value:
        from .phones import InvalidPhone, normalise

        for phone in value if isinstance(value, list) else [value]:
            try:
                normalise(phone, country)
            except InvalidPhone as e:
                raise bad(f"phone numbers ({phone}: {e})") from e


def get(conn: Connection, key: str):
    value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
    return DEFAULTS.get(key) if value is None else value


def put(conn: Connection, key: str, value) -> None:
    if conn.execute(select(settings.c.key).where(settings.c.key == key)).first():
        conn.execute(update(settings).where(settings.c.key == key).values(value=value))
    else:
        conn.execute(insert(settings).values(key=key, value=value))


def device_config(conn: Connection) -> dict:
    return {key: get(conn, key) for key in
            ("public_name", "country", "languages", "questionnaire", "code_required", "no_code_limit",
             "identify_code_required", "bonus_payment_max_percent", "return_days")}


def reserve_digital_card(conn: Connection, phone: str) -> str:
    """A new customer without a plastic card gets the next number of the digital range, held for them."""
    held = conn.execute(select(cards.c.number).where(cards.c.reserved_phone == phone,
                                                     cards.c.state == "issued")).scalar()
    if held:
        return held
    number = int(get(conn, "next_digital_card"))
    put(conn, "next_digital_card", number + 1)
    conn.execute(insert(cards).values(number=str(number), state="issued", kind="bonus", digital=True,
                                      reserved_phone=phone, created_at=clock.now()))
    return str(number)


def seed_demo(conn: Connection, shop_name: str = "Demo Shop", public_url: str | None = None) -> None:
    put(conn, "public_name", shop_name)
    if public_url:
        put(conn, "public_url", public_url)
    issue_range(conn, 10001, 10100)
    if not conn.execute(select(rules.c.id)).first():
        conn.execute(insert(rules).values(name="10% back", kind="percent", value=1000, priority=10, combine=True))
