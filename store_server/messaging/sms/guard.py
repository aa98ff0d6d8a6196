"""The SMS pumping guard: who a code may go to, and how many the whole shop may send.

SMS pumping is a fraud where someone makes a business text numbers whose operator pays the fraudster a
share (premium ranges, satellite, far-away countries). A code request names any number it likes, so the
server decides before anything is sent:

- the number must be in one of the shop's countries (its own `country`, always, and any in `sms_countries`) and a
  mobile number by phonenumbers' metadata: landlines, premium, shared-cost, VoIP, pagers and
  satellite ranges (region "001") never get a code;
- the whole shop sends at most `sms_shop_per_hour` / `sms_shop_per_day` codes (every device together); the
  first refusal in a window warns in the journal and texts the owner (`owner_phone`) once;
- each device has its own hourly and daily cap (`[otp] sends_per_device_hour`, `sends_per_device_day`),
  which the shop's "otp" setting can lower (or raise);
- replies to inbound texts (activation, STOP) go to one phone at most `inbound_replies_per_phone_hour`
  times an hour, so texting the shop cannot make it text back without end.

The fraud report (store_server/fraud.py) shows what got through: devices asking codes for many new
numbers, and codes that were never entered.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import phonenumbers
from phonenumbers import PhoneNumberType
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from loyalty_common.phones import mask

from ... import clock, shop
from ...data.db import otp_challenges, sms_log
from ...errors import DomainError, TooMany

log = logging.getLogger(__name__)

# FIXED_LINE_OR_MOBILE: countries whose numbering plan cannot tell the two apart (the US, Canada); a
# landline there simply never receives the code.
MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
_TYPE_NAMES = {value: name.lower() for name, value in vars(PhoneNumberType).items() if isinstance(value, int)}

ALERT_PURPOSE = "pumping_alert"


def allowed_countries(conn: Connection, shop_code: str | None = None) -> list[str]:
    """The countries codes may go to: the shop's own country, and the countries of its sms_countries.

    The shop's own country is always allowed: a chain-wide `sms_countries = ["UA"]` written for the Ukrainian
    shops must not make the chain's Kazakh shop refuse Kazakh numbers (its own customers)."""
    own = str(shop.get(conn, "country", shop=shop_code) or "UA").upper()
    more = [str(c).upper() for c in shop.get(conn, "sms_countries", shop=shop_code) or ()]
    return list(dict.fromkeys([own, *more]))


def check_destination(conn: Connection, e164: str, shop_code: str | None = None) -> None:
    """Refuses a number outside the countries of the asking device's shop or that is not a mobile number."""
    parsed = phonenumbers.parse(e164, None)
    region = phonenumbers.region_code_for_number(parsed) or "001"
    countries = allowed_countries(conn, shop_code)
    if region not in countries:
        raise DomainError("phone_country_not_allowed",
                          f"codes go only to numbers of {', '.join(countries)}; ask the shop to add the country",
                          country=region)
    kind = phonenumbers.number_type(parsed)
    if kind not in MOBILE_TYPES:
        raise DomainError("phone_not_mobile", "codes go only to mobile numbers", number_type=_TYPE_NAMES.get(kind))


def _of_shop(shop_code: str | None) -> list:
    """Codes asked for at the devices of one shop of a chain (None: every code of the server)."""
    if shop_code is None:
        return []
    from ...data.db import devices

    return [otp_challenges.c.device_id.in_(select(devices.c.id).where(devices.c.shop == shop_code))]


def _codes_since(conn: Connection, since: datetime, shop_code: str | None = None) -> int:
    return conn.execute(select(func.count()).select_from(otp_challenges)
                        .where(otp_challenges.c.created_at > since, *_of_shop(shop_code))).scalar()


def check_shop_caps(conn: Connection, now: datetime | None = None, shop_code: str | None = None) -> None:
    """Raises TooMany when the shop as a whole has sent its hourly or daily share of codes: in a chain, the
    codes of the asking device's shop (`shop_code`) against that shop's caps."""
    now = now or clock.now()
    for window, key, code in ((timedelta(hours=1), "sms_shop_per_hour", "shop_code_limit"),
                              (timedelta(days=1), "sms_shop_per_day", "shop_code_limit_today")):
        limit = shop.get(conn, key, shop=shop_code)
        if limit is None:
            continue
        if _codes_since(conn, now - window, shop_code) >= int(limit):
            first = clock.aware(conn.execute(select(func.min(otp_challenges.c.created_at))
                                             .where(otp_challenges.c.created_at > now - window,
                                                    *_of_shop(shop_code))).scalar())
            retry = max(1, int((first + window - now).total_seconds()) + 1)
            raise TooMany(code, "the shop has sent as many codes as it allows for now; try again later",
                          retry_after=retry, limit_key=key)


def alert_owner(engine: Engine, gateway, refusal: TooMany, shop_code: str | None = None) -> bool:
    """Once per window: a warning in the journal (always) and an SMS to the shop's owner (when set; in a chain
    the owner_phone of the shop whose cap stopped codes)."""
    from .outbound import send_logged
    from .templates import render

    window = timedelta(days=1) if refusal.code.endswith("today") else timedelta(hours=1)
    log.warning("SMS pumping guard: %s (%s); codes are refused until the window passes",
                refusal.code, refusal.details.get("limit_key"))
    with engine.connect() as conn:
        owner = shop.get(conn, "owner_phone", shop=shop_code)
        if not owner:
            return False
        already = conn.execute(select(func.count()).select_from(sms_log).where(
            sms_log.c.purpose == ALERT_PURPOSE, sms_log.c.phone == str(owner),
            sms_log.c.sent_at > clock.now() - window)).scalar()
        if already:
            return False
        languages = shop.get(conn, "languages", shop=shop_code) or ["en"]
        text = render(ALERT_PURPOSE, languages[0], shop=shop.get(conn, "public_name", shop=shop_code), conn=conn,
                      limit=shop.get(conn, str(refusal.details.get("limit_key")), shop=shop_code))
    try:
        send_logged(engine, gateway, phone=str(owner), text=text, purpose=ALERT_PURPOSE, shop_code=shop_code)
    except Exception as e:  # noqa: BLE001 - the alert is a courtesy; the refusal stands either way
        log.warning("the pumping alert to the owner %s could not be sent: %s", mask(str(owner)), e)
        return False
    return True


def may_reply(conn: Connection, phone: str, now: datetime | None = None) -> bool:
    """Whether an inbound text from `phone` may still get an automatic reply this hour."""
    now = now or clock.now()
    limit = int(shop.get(conn, "inbound_replies_per_phone_hour") or 0)
    sent = conn.execute(select(func.count()).select_from(sms_log).where(
        sms_log.c.phone == phone, sms_log.c.purpose.in_(REPLY_PURPOSES),
        sms_log.c.sent_at > now - timedelta(hours=1))).scalar()
    return sent < limit


# What activation.receive answers with, as the message log names it.
REPLY_PURPOSES = ("activation", "welcome", "opted_out")
