"""Inbound activation (seed 002): a customer texts the card number to the shop's number.

The server binds the sender's phone to the card and replies with the welcome, or with advice when the text
has no number, the card is unknown or blocked, the phone already has another card, or the card is bound to
another phone. A text of STOP opts the phone out of notices. The sender's number was proven by the mobile
network, which is why no code is needed here.

Messages arrive from a GSM modem (`ModemPoller`, reading and deleting the SIM's messages; a shop's own modem
speaks for that shop) or from a provider's inbound webhook (`store_server/messaging/sms/webhooks.py`); both end
in `receive`, which records the shop (`inbound_sms.shop`) and answers through its gateways.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from loyalty_common.phones import InvalidPhone, mask, normalise

from .. import clock, digital_card, shop
from ..data import db
from ..data.db import card_numbers, cards, customers, inbound_sms, sms_opt_outs
from ..errors import DomainError
from ..ledger import takeover
from .sms import guard, templates
from .sms.base import Gateway, GatewayError
from .sms.outbound import send_logged

log = logging.getLogger(__name__)

# Digits, allowing the spaces and dashes people type inside long numbers ("100 01", "4820-0000-1234").
_NUMBER = re.compile(r"\d(?:[ \-]?\d)*")
MIN_CARD_DIGITS, MAX_CARD_DIGITS = 5, 20


@dataclass(frozen=True)
class Outcome:
    outcome: str  # activated | already_active | no_number | unknown_card | card_blocked | phone_has_card
    #               | card_other_phone | opted_out | bad_sender | card_needs_till | activation_code_required
    #               | activation_code_wrong | flagged (a NO reply to a transaction notice)
    reply: str | None  # the template to answer with, None for no answer
    card_number: str | None = None
    values: dict = field(default_factory=dict)
    alert: dict | None = None  # for the shop owner's SMS (a NO reply): what was flagged


def card_number_in(text: str) -> str | None:
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if MIN_CARD_DIGITS <= len(digits) <= MAX_CARD_DIGITS:
            return digits
    return None


def _find_card(conn: Connection, number: str) -> dict | None:
    # Locked (after the phone, binding.lock's order): a till may be binding this card at the same moment.
    row = conn.execute(select(cards).where(cards.c.number == number).with_for_update()).mappings().first()
    if row is None:
        main = conn.execute(select(card_numbers.c.card_number).where(card_numbers.c.number == number)).scalar()
        if main is not None:
            row = conn.execute(select(cards).where(cards.c.number == main).with_for_update()).mappings().first()
    return None if row is None else dict(row)


def activate(conn: Connection, phone: str, text: str, *, at: datetime | None = None) -> Outcome:
    """Decides and applies what one inbound text means; the caller commits and sends the reply."""
    at = at or clock.now()
    db.lock_key(conn, "phone", phone)  # every binding of this phone (binding.lock), and its opt-out, in turn
    if templates.is_stop(text):
        if not templates.opted_out(conn, phone):
            conn.execute(insert(sms_opt_outs).values(phone=phone, at=at))
        conn.execute(update(customers).where(customers.c.phone == phone).values(marketing_opt_in=False))
        return Outcome("opted_out", "opted_out")
    if templates.is_no(text):
        return _flag_last_notice(conn, phone, at)
    number = card_number_in(text)
    if number is None:
        return Outcome("no_number", "activation_no_number")
    card = _find_card(conn, number)
    if card is None:
        # "10001 12345678": the number and the activation code printed on the card, read as one number above.
        for word in text.split():
            digits = re.sub(r"\D", "", word)
            if MIN_CARD_DIGITS <= len(digits) <= MAX_CARD_DIGITS and (card := _find_card(conn, digits)):
                break
    if card is None:
        return Outcome("unknown_card", "activation_unknown_card", number, {"card": number})
    number = card["number"]
    values = {"card": number}
    if card["state"] == "blocked":
        return Outcome("card_blocked", "activation_card_blocked", number, values)
    if card["state"] == "issued":
        # A card holding bonuses is not given to whoever knows its number (store_server/ledger/takeover.py).
        try:
            takeover.check(conn, card, at_till=False, code=takeover.code_in(text, number))
        except DomainError as e:
            reply = "activation_needs_till" if e.code == "card_needs_till" else "activation_code_required"
            return Outcome(e.code, reply, number, values)
    customer = conn.execute(select(customers).where(customers.c.phone == phone)).mappings().first()
    if card["state"] == "active":
        if customer is not None and card["customer_id"] == customer["id"]:
            return Outcome("already_active", "activation_already_active", number, values)
        return Outcome("card_other_phone", "activation_card_other_phone", number, values)
    if card["reserved_phone"] and card["reserved_phone"] != phone:
        return Outcome("card_other_phone", "activation_card_other_phone", number, values)
    if customer is not None:
        other = conn.execute(select(cards.c.number).where(
            cards.c.customer_id == customer["id"], cards.c.state == "active")).scalar()
        if other:
            return Outcome("phone_has_card", "activation_phone_has_card", number, {**values, "other": other})
        customer_id = customer["id"]
        if customer["consent_at"] is None:
            conn.execute(update(customers).where(customers.c.id == customer_id).values(consent_at=at))
    else:
        # Texting the card number is the customer's own act of joining: that is the consent.
        customer_id = conn.execute(insert(customers).values(
            phone=phone, created_at=at, consent_at=at, marketing_opt_in=False)).inserted_primary_key[0]
    conn.execute(update(cards).where(cards.c.number == number).values(
        state="active", customer_id=customer_id, activated_at=at, reserved_phone=None))
    return Outcome("activated", "welcome", number, {**values, "link": digital_card.card_link(conn, number)})


NOTICE_ANSWER_DAYS = 7  # a NO refers to a notice of the last week


def _flag_last_notice(conn: Connection, phone: str, at: datetime) -> Outcome:
    """"Not you? Reply NO": the last notice this phone got flags its operation and the cashier who made it."""
    from ..cashiers import display, names
    from ..data.db import devices, operations, transaction_notices

    n = transaction_notices.c
    row = conn.execute(
        select(n.id, n.operation_id, n.card_number, operations.c.type, operations.c.at, operations.c.cashier,
               devices.c.name.label("device"))
        .select_from(transaction_notices.join(operations, operations.c.id == n.operation_id)
                     .outerjoin(devices, devices.c.id == operations.c.device_id))
        .where(n.phone == phone, n.sent_at >= at - timedelta(days=NOTICE_ANSWER_DAYS))
        .order_by(n.sent_at.desc(), n.id.desc()).limit(1)).mappings().first()
    if row is None:
        return Outcome("no_notice", None)
    conn.execute(update(transaction_notices).where(n.id == row["id"], n.flagged_at.is_(None)).values(flagged_at=at))
    alert = {"operation": row["type"], "card": row["card_number"], "phone": mask(phone),
             "when": f"{clock.aware(row['at']):%Y-%m-%d %H:%M}", "device": row["device"] or "-",
             "cashier": display(row["cashier"], names(conn)) or "-"}
    log.warning("NO reply from %s flags operation %s (%s)", mask(phone), row["operation_id"], row["type"])
    return Outcome("flagged", "notice_flagged", row["card_number"], {}, alert)


def receive(engine: Engine, gateway: Gateway | None, *, sender: str, text: str, source: str,
            at: datetime | None = None, shop_code: str | None = None) -> Outcome:
    """Handles one inbound message end to end: decide, log, commit, then reply through `gateway`.

    `shop_code`: the shop whose own gateway the text reached (webhooks.inbound_shop); the reply then goes through
    that shop's gateways, in its language, under its name, and phones without a country code are its country's."""
    with db.write_transaction(engine) as conn:
        if shop_code is not None and not _shop_exists(conn, shop_code):
            shop_code = None  # a [sms.shops.CODE] table for no shop: the chain's, as for its outbound texts
        country = shop.get(conn, "country", shop=shop_code) or "UA"
        shop_name = shop.get(conn, "public_name", shop=shop_code)
        lang = (shop.get(conn, "languages", shop=shop_code) or ["en"])[0]
        try:
            phone = normalise(sender, country)
        except InvalidPhone:
            phone = None
        if phone is None:
            # An alphanumeric sender (an operator's service message) cannot be a customer; no answer.
            outcome = Outcome("bad_sender", None)
        else:
            outcome = activate(conn, phone, text, at=at)
        conn.execute(insert(inbound_sms).values(
            phone=phone or sender[:20], text=text[:1000], gateway=source, received_at=at or clock.now(),
            outcome=outcome.outcome, card_number=outcome.card_number, shop=shop_code))
    log.info("inbound SMS from %s: %s", mask(phone) if phone else "a non-phone sender", outcome.outcome)
    if outcome.reply and gateway is not None and phone is not None:
        with engine.connect() as conn:
            if not guard.may_reply(conn, phone):
                # Texting the shop must not make it text back without end (each reply costs the shop).
                log.info("no reply to %s: its replies this hour are used up", mask(phone))
                return outcome
        with engine.connect() as conn:
            reply = templates.render(outcome.reply, lang, shop=shop_name, conn=conn, shop_code=shop_code,
                                     **outcome.values)
        try:
            purpose = "activation" if outcome.reply.startswith("activation") else outcome.reply
            send_logged(engine, gateway, phone=phone, text=reply, purpose=purpose, shop_code=shop_code)
        except GatewayError as e:  # the binding stands; the reply is in the log as failed
            log.warning("reply to %s failed: %s", mask(phone), e)
    if outcome.alert and gateway is not None:
        _alert_owner(engine, gateway, outcome.alert, shop_name=shop_name, lang=lang, shop_code=shop_code)
    return outcome


def _shop_exists(conn: Connection, code: str) -> bool:
    from .. import shops

    return code in shops.codes(conn)


def _alert_owner(engine: Engine, gateway: Gateway, alert: dict, *, shop_name: str, lang: str,
                 shop_code: str | None = None) -> None:
    """The shop owner hears of a NO reply at once (shop setting owner_phone); the fraud report keeps it too."""
    with engine.connect() as conn:
        owner = shop.get(conn, "owner_phone", shop=shop_code)
        country = shop.get(conn, "country", shop=shop_code) or "UA"
    if not owner:
        return
    try:
        to = normalise(str(owner), country)
        with engine.connect() as conn:
            text = templates.render("owner_alert", lang, shop=shop_name, conn=conn, shop_code=shop_code, **alert)
        send_logged(engine, gateway, phone=to, text=text, purpose="owner_alert", shop_code=shop_code)
    except (InvalidPhone, GatewayError) as e:
        log.warning("the owner's alert could not be sent: %s", e)


class ModemPoller:
    """Reads the modem's received messages, handles each, and deletes it from the SIM once handled.

    `shop_code`: the shop whose own modem it is ([[sms.shops.CODE.gateways]]): its texts are that shop's, and
    the answers go out through that shop's gateways (`reply_gateway` being the server's ShopGateways).

    A long message whose parts have not all arrived waits `part_wait` before it is handled as it is, so a
    lost part never blocks the SIM slot for ever.
    """

    def __init__(self, engine: Engine, modem_gateway, reply_gateway: Gateway | None = None, *,
                 interval: float = 10.0, part_wait: timedelta = timedelta(minutes=10),
                 now: Callable[[], datetime] = clock.now, shop_code: str | None = None) -> None:
        self.engine, self.modem, self.shop_code = engine, modem_gateway, shop_code
        self.reply_gateway = reply_gateway or modem_gateway
        self.interval, self.part_wait, self.now = interval, part_wait, now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> list[Outcome]:
        outcomes = []
        for msg in self.modem.read_messages():
            if not msg.complete and self.now() - msg.received_at < self.part_wait:
                continue
            outcomes.append(receive(self.engine, self.reply_gateway, sender=msg.sender, text=msg.text,
                                    source=self.modem.name, at=msg.received_at, shop_code=self.shop_code))
            # Deleted only after the outcome is committed: a crash in between handles it again, which is
            # harmless (the second time it is "already active").
            self.modem.delete_messages(msg.indexes)
        return outcomes

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except GatewayError as e:  # unplugged or busy: the gateway reopens the port next time
                log.warning("reading the modem's messages failed: %s", e)
            except Exception:  # the poller must outlive one bad message
                log.exception("inbound SMS poll failed")

    def start(self) -> ModemPoller:
        self._thread = threading.Thread(target=self._run, name="sms-inbound", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)


def modems_of(gateway: Gateway) -> list[tuple[object, str | None]]:
    """Every GSM modem configured, each with the shop it belongs to: (modem, None) for the chain's [sms]
    gateways, (modem, "ALA1") for a modem in [[sms.shops.ALA1.gateways]] (registry.ShopGateways)."""
    def modems(g: Gateway) -> list:
        return [m for m in getattr(g, "gateways", [g]) if hasattr(m, "read_messages")]

    if not hasattr(gateway, "for_shop"):
        return [(m, None) for m in modems(gateway)]
    found = [(m, None) for m in modems(gateway.default)]
    for code, own in gateway.shops.items():
        found += [(m, code) for m in modems(own) if all(m is not seen for seen, _ in found)]
    return found


def attach_poller(app) -> None:
    """Runs a ModemPoller for the app's lifetime for each GSM modem configured ([sms] inbound_poll_seconds): the
    chain's, and each shop's own, whose texts are that shop's and are answered through its gateways."""
    config = app.state.config
    modems = modems_of(app.state.gateway)
    interval = float((config.sms or {}).get("inbound_poll_seconds", 10))
    if not modems or interval <= 0:
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a) -> AsyncIterator[None]:
        pollers = [ModemPoller(app.state.engine, modem, app.state.gateway, interval=interval, shop_code=code).start()
                   for modem, code in modems]
        try:
            async with inner(a) as state:
                yield state
        finally:
            for poller in pollers:
                poller.stop()

    app.router.lifespan_context = lifespan
