"""Sending an SMS through the shop's gateway and writing it to the message log."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from loyalty_common.money import format_money_sms, format_plain
from loyalty_common.phones import mask

from ... import clock
from ...data.db import sms_log, write_transaction
from ...metrics import count_sms
from . import segments, templates
from .base import Gateway, GatewayError, SendResult

log = logging.getLogger(__name__)


class NotAllowed(Exception):
    """The customer is not confirmed or opted out: notices and marketing may not go to them."""


def send_logged(engine: Engine, gateway: Gateway, *, phone: str, text: str, purpose: str,
                challenge_id: str | None = None, shop_code: str | None = None) -> SendResult:
    """Sends and logs (time, gateway, gateway message id, status, shop); a refused send is logged as failed. With
    `shop_code`, through that shop's own gateways when it has them (registry.ShopGateways)."""
    if shop_code is not None and hasattr(gateway, "for_shop"):
        gateway = gateway.for_shop(shop_code)
    try:
        result = gateway.send(phone, text)
    except GatewayError as e:
        count_sms(gateway.name, purpose, ok=False)
        log.warning("SMS %s to %s failed through %s: %s", purpose, mask(phone), gateway.name, e)
        with engine.begin() as conn:
            conn.execute(insert(sms_log).values(phone=phone, purpose=purpose, gateway=gateway.name,
                                                status="failed", error=str(e)[:200], sent_at=clock.now(),
                                                challenge_id=challenge_id, segments=segments.parts(text),
                                                shop=shop_code))
        raise
    count_sms(result.gateway, purpose, ok=True)
    with engine.begin() as conn:
        conn.execute(insert(sms_log).values(phone=phone, purpose=purpose, gateway=result.gateway,
                                            gateway_message_id=result.message_id, status=result.status,
                                            sent_at=clock.now(), challenge_id=challenge_id,
                                            segments=segments.parts(text), shop=shop_code))
    return result


def send_template(engine: Engine, gateway: Gateway, *, phone: str, purpose: str, lang: str | None,
                  shop_name: str, shop_code: str | None = None, **values: object) -> SendResult:
    """Renders `purpose` and sends it, refusing restricted purposes to unconfirmed or opted-out phones."""
    with engine.connect() as conn:
        if not templates.may_send(conn, phone, purpose):
            raise NotAllowed(f"{purpose} may not go to this phone (not confirmed or opted out)")
    if purpose == "welcome" and "link" not in values:
        from ...digital_card import card_link

        # A write transaction from the start: the shop's first link creates its secret, and a deferred one would
        # fail with "database is locked" on SQLite when another writer commits between the read and the insert.
        with write_transaction(engine) as conn:
            values["link"] = card_link(conn, str(values["card"]))
    with engine.connect() as conn:
        text = templates.render(purpose, lang, shop=shop_name, conn=conn, shop_code=shop_code, **values)
    return send_logged(engine, gateway, phone=phone, text=text, purpose=purpose, shop_code=shop_code)


def send_welcomes(engine: Engine, gateway: Gateway, ops: list[dict], results: list[dict],
                  shop_code: str | None = None) -> int:
    """The welcome SMS (with how to opt out) for each registration a batch just applied.

    Sent after the batch committed and only for "applied", never for a duplicate, so a device
    retrying a batch does not welcome the customer twice. A failed send never fails the batch.
    """
    from ... import shop

    applied = {r["id"] for r in results if r.get("status") == "applied"}
    sent = 0
    for op in ops:
        if op.get("type") != "register" or op["id"] not in applied:
            continue
        result = next(r for r in results if r["id"] == op["id"])
        phone, card = (op.get("payload") or {}).get("phone"), (result.get("result") or {}).get("card_number")
        if not phone or not card or result["result"].get("pending_review"):
            continue  # a till activation under review is welcomed when an operator approves it
        with engine.connect() as conn:
            name = shop.get(conn, "public_name", shop=shop_code)
            languages = shop.get(conn, "languages", shop=shop_code) or ["en"]
        lang = op["payload"].get("lang")
        try:
            send_template(engine, gateway, phone=phone, purpose="welcome", shop_code=shop_code,
                          lang=lang if lang in languages else languages[0], shop_name=name, card=card)
            sent += 1
        except (GatewayError, NotAllowed):
            continue
    return sent


def notice_for(op: dict, result: dict, mode: str, *, money: Callable[[int], str] = templates.format_points,
               points: Callable[[int], str] = templates.format_points) -> tuple[str, dict] | None:
    """The notice an applied operation gets under `transaction_sms` = mode ("money" or "all"), or None.

    "money": operations that moved bonuses (earned, paid with, given back, taken back); "all": every sale,
    redemption, return and cancel, also a discount card's purchase that moves no bonuses. `money` and `points`
    write minor units for the reader (send_notices binds them to the shop's currency and language).
    """
    kind = op.get("type")
    if kind == "sale":
        spent, accrued = result.get("bonus_payment", result.get("redeemed", 0)), result.get("accrued", 0)
        if not (spent or accrued) and mode != "all":
            return None
        if spent or mode == "all" and not accrued:
            return "notice_sale", {"amount": money(result.get("amount", 0)), "spent": points(spent),
                                   "points": points(accrued)}
        return "notice_accrual", {"points": points(accrued)}
    if kind == "redeem" and result.get("redeemed"):
        return "notice_redeem", {"points": points(result["redeemed"])}
    if kind == "return":
        change = result.get("bonuses_refunded", 0) - result.get("bonuses_taken", 0)
        if change or mode == "all":
            return "notice_return", {"amount": money(result.get("money_refund", 0)),
                                     "points": ("+" if change > 0 else "") + points(change)}
    if kind == "cancel":
        change = result.get("bonuses", 0)
        if change or mode == "all":
            return "notice_cancel", {"points": ("+" if change > 0 else "") + points(change)}
    return None


def send_notices(engine: Engine, gateway: Gateway, ops: list[dict], results: list[dict],
                 shop_code: str | None = None) -> int:
    """Transaction notices with "Not you? Reply NO" when the shop turned them on (`transaction_sms`).

    Only to confirmed customers who did not opt out (`templates.may_send`); only for "applied" results, so
    a retried batch does not notify twice. Each notice sent is recorded, so a NO reply finds its operation.
    """
    from ... import cards, shop
    from ...data.db import transaction_notices
    from .. import codes as otp

    with engine.connect() as conn:
        mode = shop.get(conn, "transaction_sms", shop=shop_code)
        if mode not in ("money", "all"):
            return 0
        name = shop.get(conn, "public_name", shop=shop_code)
        languages = shop.get(conn, "languages", shop=shop_code) or ["en"]
        currency, country = shop.currency(conn), shop.get(conn, "country", shop=shop_code) or ""
    lang = languages[0]

    def money(minor: int) -> str:  # the purchase and the money back: 1 234,50 ₴ (uk), UAH 1,234.50 (en)
        return format_money_sms(minor, currency, lang, country)

    def points(minor: int) -> str:  # bonuses: the number as the reader writes it, in GSM-7 spaces
        return format_plain(minor, currency, lang, country).replace("\u00a0", " ").replace("\u202f", " ")

    by_id = {r["id"]: r for r in results if r.get("status") == "applied"}
    sent = 0
    for op in ops:
        result = (by_id.get(op["id"]) or {}).get("result") or {}
        notice = notice_for(op, result, mode, money=money, points=points) if result else None
        card = result.get("card_number") or (op.get("payload") or {}).get("card_number")
        if notice is None or not card:
            continue
        purpose, values = notice
        with engine.connect() as conn:
            card = cards.resolve(conn, str(card)) or str(card)  # an extra number (key fob) means its card
            phone = otp.card_phone(conn, card)
        if phone is None:
            continue
        try:
            send_template(engine, gateway, phone=phone, purpose=purpose, lang=languages[0], shop_name=name,
                          shop_code=shop_code,
                          card=card, balance=points(result.get("balance", 0)), **values)
        except (GatewayError, NotAllowed):
            continue
        with engine.begin() as conn:
            conn.execute(insert(transaction_notices).values(operation_id=op["id"], phone=phone, card_number=str(card),
                                                            sent_at=clock.now()))
        sent += 1
    return sent


def after_batch(engine: Engine, gateway: Gateway, ops: list[dict], results: list[dict],
                shop_code: str | None = None) -> None:
    """Messages a batch of operations causes, sent after it committed (a slow SMS never holds the ledger), in
    the name, languages and notice policy of the shop (`shop_code`) whose device sent the batch."""
    send_welcomes(engine, gateway, ops, results, shop_code)
    send_notices(engine, gateway, ops, results, shop_code)
