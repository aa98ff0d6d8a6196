"""The chain's shops: what each is called, where it is, and its own settings over the chain's.

Customers, cards and balances belong to the chain; a device belongs to one shop, and every operation records
the shop its device was in. A setting marked per-shop in settings_schema resolves shop -> chain -> default:
`resolve(conn, "KYIV1")` is every setting as that shop's devices see it. A shop's time zone and country are
columns of its own (None: the chain's), and its public name may differ per language.

An installation with one shop has the shop `main` (the migration to shops made it; a new database gets it on
first use, named after the chain's `public_name`), so nothing has to name a shop until there are two.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from . import clock, settings_schema
from .data.db import devices, lock_key, settings, shop_settings, shops
from .errors import DomainError

DEFAULT = "main"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
COLUMNS = ("timezone", "country")  # settings a shop keeps in its own row


class UnknownShop(DomainError):
    def __init__(self, code: str, known: list[str]) -> None:
        super().__init__("unknown_shop", f"no shop {code!r}; shops: {', '.join(known) or 'none yet'}")


def check_code(code: str) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise DomainError("bad_shop_code", f"{code!r} is not a shop code: 1 to 32 letters, digits, - or _ "
                                           "starting with a letter or digit, e.g. KYIV1")
    return code


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise DomainError("bad_shop_name", "a shop's name is 1 to 200 characters")
    return name


def _public_names(names: dict | None) -> dict:
    names = dict(names or {})
    for lang, value in names.items():
        if lang not in settings_schema.LANGUAGES:
            raise DomainError("bad_language", f"{lang!r} is not one of {', '.join(settings_schema.LANGUAGES)}")
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise DomainError("bad_shop_name", f"the public name in {lang} is 1 to 200 characters")
        names[lang] = value.strip()
    return names


def codes(conn: Connection) -> list[str]:
    return list(conn.execute(select(shops.c.code).order_by(shops.c.code)).scalars())


def get(conn: Connection, code: str) -> dict:
    row = conn.execute(select(shops).where(shops.c.code == code)).mappings().first()
    if row is None:
        raise UnknownShop(code, codes(conn))
    return dict(row)


def add(conn: Connection, code: str, *, name: str, timezone: str | None = None, country: str | None = None,
        public_names: dict | None = None) -> dict:
    check_code(code)
    values = dict(code=code, name=_name(name), public_names=_public_names(public_names),
                  timezone=_checked("timezone", timezone), country=_checked("country", country),
                  created_at=clock.now())
    lock_key(conn, "shop", code.lower())
    if conn.execute(select(shops.c.code).where(func.lower(shops.c.code) == code.lower())).first():
        raise DomainError("shop_exists", f"there is a shop {code!r} already")
    conn.execute(insert(shops).values(**values))
    return values


def edit(conn: Connection, code: str, *, name: str | None = None, public_names: dict | None = None,
         **columns) -> dict:
    """Changes what is given; a column given as None goes back to the chain's value."""
    current = get(conn, code)
    values: dict = {}
    if name is not None:
        values["name"] = _name(name)
    if public_names is not None:
        merged = {**current["public_names"], **public_names}
        values["public_names"] = _public_names({k: v for k, v in merged.items() if v})
    for key, value in columns.items():
        if key not in COLUMNS:
            raise TypeError(key)
        values[key] = _checked(key, value)
    if values:
        conn.execute(update(shops).where(shops.c.code == code).values(**values))
    return {**current, **values}


def _checked(key: str, value):
    return None if value is None else settings_schema.validate(key, value)


def ensure_default(conn: Connection) -> str:
    """The shop of a one-shop installation, made on first use (named after the chain's public_name)."""
    existing = codes(conn)
    if existing:
        return existing[0]
    lock_key(conn, "shop", DEFAULT)
    if not conn.execute(select(shops.c.code).where(shops.c.code == DEFAULT)).first():
        name = conn.execute(select(settings.c.value).where(settings.c.key == "public_name")).scalar()
        conn.execute(insert(shops).values(code=DEFAULT, name=str(name or "Demo Shop")[:200], public_names={},
                                          created_at=clock.now()))
    return DEFAULT


def pick(conn: Connection, code: str | None) -> str:
    """The shop an operator meant: the one named, else the only one; with several, they must say which."""
    if code:
        return get(conn, code)["code"]
    existing = codes(conn)
    if len(existing) > 1:
        raise DomainError("shop_ambiguous", f"this server has {len(existing)} shops: say which one with --shop "
                                            f"({', '.join(existing)})")
    return existing[0] if existing else ensure_default(conn)


def listing(conn: Connection) -> list[dict]:
    """Every shop with its devices in use, by code."""
    counts = dict(conn.execute(select(devices.c.shop, func.count()).where(devices.c.revoked_at.is_(None))
                               .group_by(devices.c.shop)).all())
    overrides: dict[str, dict] = {}
    for row in conn.execute(select(shop_settings)).mappings():
        overrides.setdefault(row["shop"], {})[row["key"]] = row["value"]
    return [{**dict(r), "devices": int(counts.get(r["code"], 0)), "settings": overrides.get(r["code"], {})}
            for r in conn.execute(select(shops).order_by(shops.c.code)).mappings()]


# Settings, shop -> chain -> default. -------------------------------------------------------------------------

def every_question(conn: Connection) -> list[dict]:
    """The chain's questionnaire, then the questions shops added in their own (a key once, the chain's first):
    a customer is the chain's, and the back office shows and edits every answer they gave in any shop."""
    from . import shop as chain

    fields = list(chain.get(conn, "questionnaire") or [])
    seen = {f["key"] for f in fields}
    for own in conn.execute(select(shop_settings.c.value).where(shop_settings.c.key == "questionnaire")
                            .order_by(shop_settings.c.shop)).scalars():
        for field in own or []:
            if field.get("key") not in seen:
                fields.append(field)
                seen.add(field["key"])
    return fields


def own_settings(conn: Connection, code: str) -> dict:
    """What the shop set for itself (its time zone and country included), nothing inherited."""
    row = get(conn, code)
    own = dict(conn.execute(select(shop_settings.c.key, shop_settings.c.value)
                            .where(shop_settings.c.shop == code)).all())
    own.update({key: row[key] for key in COLUMNS if row[key] is not None})
    return own


def resolve(conn: Connection, code: str | None, lang: str | None = None) -> dict:
    """Every setting as shop `code` sees it: its own value, else the chain's, else the default. `lang` picks
    the shop's public name in that language when it has one. `code=None`: the chain's settings."""
    chain = {**settings_schema.DEFAULTS, **dict(conn.execute(select(settings.c.key, settings.c.value)).all())}
    if code is None:
        return chain
    row = get(conn, code)
    own = own_settings(conn, code)
    resolved = {**chain, **{k: v for k, v in own.items() if k in settings_schema.PER_SHOP}}
    names = row["public_names"] or {}
    wanted = lang or (resolved.get("languages") or [None])[0]
    if wanted in names:
        resolved["public_name"] = names[wanted]
    return resolved


def setting(conn: Connection, code: str | None, key: str):
    """One setting for shop `code` (None: the chain's). A shop's public_name is its name in its first language
    when it has one there (texts whose language is chosen later pick with public_name())."""
    if code is not None and key == "public_name":
        return public_name(conn, code, None)
    return _setting(conn, code, key)


def public_name(conn: Connection, code: str | None, lang: str | None) -> str:
    """The name customers of shop `code` see in `lang` (default: the shop's first language)."""
    if code is not None:
        names = conn.execute(select(shops.c.public_names).where(shops.c.code == code)).scalar() or {}
        lang = lang or (_setting(conn, code, "languages") or [None])[0]
        if lang in names:
            return names[lang]
    return _setting(conn, code, "public_name")


def own_public_name(conn: Connection, code: str | None, lang: str | None) -> str | None:
    """The shop's own name for customers in `lang` (its public_names, else its own public_name setting); None
    when it has none and the chain's names apply."""
    if code is None:
        return None
    names = conn.execute(select(shops.c.public_names).where(shops.c.code == code)).scalar() or {}
    if lang in names:
        return names[lang]
    return conn.execute(select(shop_settings.c.value).where(shop_settings.c.shop == code,
                                                            shop_settings.c.key == "public_name")).scalar()


def _setting(conn: Connection, code: str | None, key: str):
    if code is not None and key in settings_schema.PER_SHOP:
        if key in COLUMNS:
            value = conn.execute(select(getattr(shops.c, key)).where(shops.c.code == code)).scalar()
            if value is not None:
                return value
        else:
            # A row, even one holding none (`return_days none` in one shop), is the shop's own value.
            row = conn.execute(select(shop_settings.c.value).where(
                shop_settings.c.shop == code, shop_settings.c.key == key)).first()
            if row is not None:
                return row[0]
    value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
    return settings_schema.DEFAULTS.get(key) if value is None else value


def set_setting(conn: Connection, code: str, key: str, value):
    """Shop `code`'s own value of a per-shop setting, checked by the setting's type."""
    settings_schema.spec_per_shop(key)
    get(conn, code)
    value = settings_schema.validate(key, value)
    if key in COLUMNS:
        if value is None:
            raise DomainError("bad_setting", f"{key}: a shop's {key} cannot be none; `settings reset --shop` "
                                             "makes it the chain's again")
        conn.execute(update(shops).where(shops.c.code == code).values({key: value}))
        return value
    lock_key(conn, "shop-setting", code, key)
    if conn.execute(update(shop_settings).where(shop_settings.c.shop == code, shop_settings.c.key == key)
                    .values(value=value)).rowcount == 0:
        conn.execute(insert(shop_settings).values(shop=code, key=key, value=value))
    return value


def reset_setting(conn: Connection, code: str, key: str) -> None:
    """The shop follows the chain's value again."""
    settings_schema.spec_per_shop(key)
    get(conn, code)
    if key in COLUMNS:
        conn.execute(update(shops).where(shops.c.code == code).values({key: None}))
    else:
        conn.execute(delete(shop_settings).where(shop_settings.c.shop == code, shop_settings.c.key == key))
