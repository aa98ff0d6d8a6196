"""Shop-wide settings kept in the database (so the admin CLI can change them while the server runs)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from . import clock, settings_schema
from .cards import issue_range
from .data.db import cards, rules, settings

# Every setting's type, default, description and group: store_server/settings_schema.py (one line per setting).
DEFAULTS = settings_schema.DEFAULTS


def get(conn: Connection, key: str, *, shop: str | None = None):
    """The chain's value of `key`, or with `shop` that shop's (shop -> chain -> default, store_server/shops.py)."""
    if shop is not None:
        from . import shops

        return shops.setting(conn, shop, key)
    value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
    return DEFAULTS.get(key) if value is None else value


def put(conn: Connection, key: str, value) -> None:
    if conn.execute(select(settings.c.key).where(settings.c.key == key)).first():
        conn.execute(update(settings).where(settings.c.key == key).values(value=value))
    else:
        conn.execute(insert(settings).values(key=key, value=value))


def set_setting(conn: Connection, key: str, value):
    """Check the value against the setting's type (settings_schema.SettingError says why not), then store it."""
    value = settings_schema.validate(key, value)
    put(conn, key, value)
    return value


def reset_setting(conn: Connection, key: str) -> None:
    settings_schema.spec(key)
    conn.execute(delete(settings).where(settings.c.key == key))


def stored(conn: Connection) -> dict:
    """The settings the shop changed from their defaults (and internal ones such as the card page's secret)."""
    return dict(conn.execute(select(settings.c.key, settings.c.value)).all())


def currency(conn: Connection) -> str:
    """The shop's currency: the setting, else the legal tender of its country (money.currency_for)."""
    from loyalty_common.money import currency_for

    return (get(conn, "currency") or currency_for(get(conn, "country"))).upper()


def device_config(conn: Connection, shop: str | None = None, server_otp: dict | None = None) -> dict:
    """GET /config: the device settings as the device's shop resolves them, and the shop's code and name."""
    from . import shops
    from .messaging import codes

    resolved = shops.resolve(conn, shop)
    config = {s.key: resolved[s.key] for s in settings_schema.SETTINGS if s.device}
    if shop is not None:
        row = shops.get(conn, shop)
        config["shop"] = {"code": shop, "name": row["name"], "public_names": row["public_names"],
                          "timezone": resolved["timezone"]}
    # How long this shop's SMS codes and the tokens they give last (server.toml [otp], then the shop's "otp"
    # setting): a kiosk reuses a token the customer just earned only while the server will still take it.
    policy = codes.policy_for(conn, server_otp, shop)
    config["otp"] = {"code_seconds": int(policy.code_ttl.total_seconds()),
                     "token_seconds": int(policy.token_ttl.total_seconds())}
    # devices show money in it: the setting, or the country's when the shop left it empty
    return {**config, "currency": currency(conn)}


def reserve_digital_card(conn: Connection, phone: str) -> str:
    """A new customer without a plastic card gets the next number of the digital range, held for them."""
    from .data.db import lock_key

    lock_key(conn, "phone", phone)
    held = conn.execute(select(cards.c.number).where(cards.c.reserved_phone == phone,
                                                     cards.c.state == "issued")).scalar()
    if held:
        return held
    lock_key(conn, "next_digital_card")  # two new customers at once get two numbers, not one twice
    number = int(get(conn, "next_digital_card"))
    put(conn, "next_digital_card", number + 1)
    conn.execute(insert(cards).values(number=str(number), state="issued", kind="bonus", digital=True,
                                      reserved_phone=phone, created_at=clock.now()))
    return str(number)


def seed_demo(conn: Connection, shop_name: str = "Demo Shop", public_url: str | None = None) -> None:
    from .demo_terms import DEMO_TERMS

    put(conn, "public_name", shop_name)
    put(conn, "terms", DEMO_TERMS)
    if public_url:
        put(conn, "public_url", public_url)
    issue_range(conn, 10001, 10100)
    if not conn.execute(select(rules.c.id)).first():
        from .ledger import rules as rule_data

        rule_data.create(conn, name="10% back", kind="percent", value=1000, priority=10, combine=True)
