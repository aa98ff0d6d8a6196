"""Applying device operations: each id at most once, each in its own savepoint, results per id.

Operation types and their payloads (amounts in minor units) are listed in docs/server.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from .. import cashiers, clock, devices, shop
from .. import customers as customer_data
from ..data import db
from ..data.db import (
    cancellations,
    card_numbers,
    card_replacements,
    cards,
    customers,
    operations,
    sales,
    till_activations,
)
from ..data.db import ledger as ledger_table
from ..data.db import receipts as receipts_table
from ..errors import DomainError
from ..messaging import codes as otp
from ..messaging import till_activation
from . import binding, device_clock, receipts, rules, takeover, tiers
from . import entries as ledger

MAX_BATCH = 500
MAX_AMOUNT = 10**12  # a trillion minor units: far beyond any till, well inside a 64-bit column

log = logging.getLogger(__name__)

# Statements built once (see ledger.py): ingest runs them for every operation of every batch.
_CARD = select(cards).where(cards.c.number == bindparam("number"))
# The card row locked until commit (PostgreSQL; SQLite's write lock already covers it): whoever changes a
# card's balance after checking it holds this first, so two spends of one balance run one after the other.
_CARD_LOCKED = _CARD.with_for_update()
_EXTRA = select(card_numbers.c.card_number).where(card_numbers.c.number == bindparam("number"))
_INSERT_OP = insert(operations)
_SET_RESULT = update(operations).where(operations.c.id == bindparam("op_id"))
_SET_CARD = update(operations).where(operations.c.id == bindparam("op_id")).values(
    card_number=bindparam("card_number"))
# How long after its registration (server time) the registering device may still add answers and choices
# without the customer's code: the customer is standing at that kiosk.
REGISTRATION_WINDOW = timedelta(minutes=30)
_INSERT_SALE = insert(sales)
_INSERT_RECEIPT = insert(receipts_table)
_REPLAY = select(operations.c.status, operations.c.error, operations.c.result, operations.c.device_id,
                 operations.c.type, operations.c.payload).where(
    operations.c.id == bindparam("op_id"))


class OperationContext:
    def __init__(self, conn: Connection, op: dict, device: dict, cache: dict) -> None:
        self.conn = conn
        self.op = op
        self.device = device
        self.payload = op.get("payload") or {}
        self.at: datetime = op["at"]
        self._cache = cache  # settings, rules and tiers, read once per batch

    @property
    def shop(self) -> str | None:
        """The device's shop (None for the back office and the server): its settings, rules and tiers apply."""
        return self.device.get("shop")

    def setting(self, key: str):
        if key not in self._cache:
            self._cache[key] = shop.get(self.conn, key, shop=self.shop)
        return self._cache[key]

    def cached(self, key: str, load: Callable[[Connection], object]):
        if key not in self._cache:
            self._cache[key] = load(self.conn)
        return self._cache[key]


def _text(payload: dict, key: str, *, required: bool = True, max_len: int = 64) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # card numbers typed as JSON numbers
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise DomainError(f"bad_{key}", f"{key} must be a non-empty string of at most {max_len} characters")
    return value


def _amount(payload: dict, key: str = "amount", *, default: int | None = None) -> int:
    value = payload.get(key, default)
    if (not isinstance(value, int) or isinstance(value, bool) or value < (0 if default == 0 else 1)
            or value > MAX_AMOUNT):
        raise DomainError("bad_amount", f"{key} must be a positive whole number of minor units")
    return value


def _card(conn: Connection, number: str | None, *, lock: bool = False) -> dict:
    """The card, also by an extra number; with `lock` its row stays locked to this transaction."""
    if not number:
        raise DomainError("card_required", "the operation names no card")
    query = _CARD_LOCKED if lock else _CARD
    row = conn.execute(query, {"number": number}).mappings().first()
    if row is None:
        main = conn.execute(_EXTRA, {"number": number}).scalar()
        if main is not None:
            row = conn.execute(query, {"number": main}).mappings().first()
    if row is None:
        raise DomainError("card_not_found", "this card is not one of ours")
    if row["state"] == "blocked":
        raise DomainError("card_blocked", "this card is blocked")
    if row["state"] == "replaced":
        raise DomainError("card_replaced", "this card was replaced by a new one")
    return dict(row)


_REPLACED_BY = select(card_replacements.c.new_number).where(card_replacements.c.old_number == bindparam("number"))


def current_number(conn: Connection, number: str) -> str:
    """The card a number's balance lives on now: itself, or the card that replaced it (and so on)."""
    for _ in range(20):  # a chain of replacements is short; a cycle cannot be made, but never loop forever
        newer = conn.execute(_REPLACED_BY, {"number": number}).scalar()
        if newer is None:
            return number
        number = newer
    return number


def _require_role(ctx: OperationContext, role: str) -> None:
    if ctx.device.get("role") != role:
        raise DomainError("role_not_allowed", f"only a {role} device may do this")


def require_verification(conn: Connection, op: dict, purpose: str, card: dict, amount: int,
                         *, settings: Callable[[str], object] | None = None) -> None:
    """The one place where an operation's SMS verification is checked (redeem, discount, return).

    The shop decides which purposes need a code (`code_required`) and the amount up to which none is
    needed (`no_code_limit`); a needed token must have been issued for this card's phone, this purpose and
    this amount, and is consumed by this operation.
    """
    get = settings or (lambda key: shop.get(conn, key))
    if otp.code_required(get, purpose, amount):
        _consume_for_card(conn, op, purpose, card, amount)


def _consume_for_card(conn: Connection, op: dict, purpose: str, card: dict, amount: int) -> None:
    phone = None
    if card.get("customer_id") is not None:
        phone = conn.execute(select(customers.c.phone).where(customers.c.id == card["customer_id"])).scalar()
    if phone is None:
        raise DomainError("verification_impossible", "the card has no phone to send a code to")
    otp.consume_token(conn, token=op.get("verification_token"), purpose=purpose, operation_id=op["id"],
                      phone=phone, card_number=card["number"], amount=amount)


def _verify(ctx: OperationContext, purpose: str, card: dict, amount: int) -> None:
    require_verification(ctx.conn, ctx.op, purpose, card, amount, settings=ctx.setting)


def apply_register(ctx: OperationContext) -> dict:
    conn, p = ctx.conn, ctx.payload
    phone = _text(p, "phone", max_len=20)
    requested = _text(p, "card_number", required=False)
    # At a till the cashier's right decides (till_activation.py); checked before the code is spent.
    mode = till_activation.refuse_if_off(conn, ctx.device, ctx.setting("till_activation"))
    at_till = ctx.device.get("role") == "cashier"
    if requested and not at_till and takeover.needs(conn, _card(conn, requested)) == "till":
        raise DomainError("card_needs_till", "this card already holds bonuses or was used: activate it at the "
                                             "till, with the card in hand")
    # A printed activation code is checked only after the phone's code, so it cannot be guessed without one.
    token = otp.consume_token(conn, token=ctx.op.get("verification_token"), purpose="register",
                              operation_id=ctx.op["id"], phone=phone, card_number=requested)
    card = _card(conn, requested or token["card_number"])
    if card["state"] == "issued":
        # A card worth something is not given to whoever knows its number (store_server/ledger/takeover.py).
        takeover.check(conn, card, at_till=at_till, code=p.get("activation_code"))
    if at_till:
        # At the till the customer accepts the terms by giving the cashier the code the SMS sent them (the
        # code just consumed): the code step is the consent, whatever the till's payload says.
        p = {**p, "consent": True}
    if mode == "review" and card["state"] != "active":
        return till_activation.submit(conn, op=ctx.op, device=ctx.device, card=card, phone=phone, payload=p,
                                      questionnaire=ctx.setting("questionnaire"))
    binding.bind(conn, card, phone, p, at=ctx.at, questionnaire=ctx.setting("questionnaire"))
    # The card the registration chose (a digital one is the server's pick): `audit CARD` lists it, and an
    # update_customer from this device may follow it (apply_update_customer).
    conn.execute(_SET_CARD, {"op_id": ctx.op["id"], "card_number": card["number"]})
    return {"card_number": card["number"]}  # "pending_review" only appears when it is true


def _may_update_profile(ctx: OperationContext, card: dict) -> None:
    """A customer's consent and answers change with the customer's code (an `identify` token for the card's
    phone) or from the device that registered them, shortly after: no other kiosk may rewrite a stranger's
    choices."""
    if ctx.op.get("verification_token"):
        phone = ctx.conn.execute(select(customers.c.phone).where(customers.c.id == card["customer_id"])).scalar()
        otp.consume_token(ctx.conn, token=ctx.op["verification_token"], purpose="identify",
                          operation_id=ctx.op["id"], phone=phone)
        return
    registered = ctx.conn.execute(
        select(func.max(operations.c.received_at)).where(
            operations.c.type == "register", operations.c.status == "applied",
            operations.c.device_id == ctx.device["id"], operations.c.card_number == card["number"])).scalar()
    if registered is None or clock.now() - clock.aware(registered) > REGISTRATION_WINDOW:
        raise DomainError("verification_required", "changing a customer's details needs the customer's code")


def apply_update_customer(ctx: OperationContext) -> dict:
    """Questionnaire answers, consent and marketing choice given at the kiosk after registration."""
    card = _card(ctx.conn, _text(ctx.payload, "card_number"))
    if card["customer_id"] is None:
        raise DomainError("card_not_active", "this card has no customer yet")
    _may_update_profile(ctx, card)
    p = ctx.payload
    # Stamped with the server's time: a device's clock (or a device lying about it) cannot backdate consent.
    now = clock.now()
    if p.get("answers") is not None:
        customer_data.save_answers(ctx.conn, card["customer_id"], p["answers"], ctx.setting("questionnaire"),
                                   at=now)
    if "marketing" in p or "consent" in p:
        customer_data.set_choices(ctx.conn, card["customer_id"], consent=p.get("consent"),
                                  marketing=p.get("marketing"), at=now)
    return {"card_number": card["number"]}


def _bonus_payment(payload: dict) -> int:
    """`bonus_payment`, or `redeem`, its old name that kiosks in the field still send."""
    if payload.get("bonus_payment") is not None:
        return _amount(payload, "bonus_payment", default=0)
    return _amount(payload, "redeem", default=0)


def apply_sale(ctx: OperationContext) -> dict:
    """One receipt: the card's discount, bonuses paid on it, accrual on the money paid, in one step."""
    _require_role(ctx, "cashier")
    # Paying with bonuses reads the balance first: lock the card. A sale that only earns needs no lock.
    wants_bonus = any(ctx.payload.get(key) not in (None, 0) for key in ("bonus_payment", "redeem"))
    card = _card(ctx.conn, _text(ctx.payload, "card_number"), lock=wants_bonus)
    r = receipts.price(ctx, card, _amount(ctx.payload), _bonus_payment(ctx.payload),
                       allow_partial=ctx.payload.get("allow_partial") is True)
    if r.code_purpose:
        _consume_for_card(ctx.conn, ctx.op, r.code_purpose, card, r.code_amount)
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="redemption",
                amount=-r.bonus_payment, at=ctx.at)
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="accrual",
                amount=r.accrued, at=ctx.at)
    ctx.conn.execute(_INSERT_SALE, dict(
        operation_id=ctx.op["id"], card_number=card["number"], customer_id=card["customer_id"], at=ctx.at,
        amount=r.amount, discount=r.discount, redeemed=r.bonus_payment, paid=r.to_pay, accrued=r.accrued,
        returned_amount=0, accrual_taken=0, redeem_refunded=0, money_refunded=0, cancelled_by=None))
    no = ctx.conn.execute(_INSERT_RECEIPT, {"operation_id": ctx.op["id"]}).inserted_primary_key[0]
    return _sale_result(r.amount, r.discount, r.bonus_payment, r.accrued, r.tier, r.balance_after, no)


def _sale_result(amount: int, discount: int, bonus_payment: int, accrued: int, tier: str | None, balance: int,
                 no: int) -> dict:
    # `redeemed` and `paid` are the old names of bonus_payment and to_pay, kept for kiosks in the field.
    return {"amount": amount, "discount": discount, "bonus_payment": bonus_payment,
            "to_pay": amount - discount - bonus_payment, "accrued": accrued, "balance": balance, "tier": tier,
            "receipt_no": no, "redeemed": bonus_payment, "paid": amount - discount - bonus_payment}


def _spendable(ctx: OperationContext, card: dict, wanted: int) -> int:
    """Bonuses that may be spent: all that were asked for, or with `allow_partial` what the card holds."""
    have = ledger.balance(ctx.conn, card["number"])
    if have >= wanted:
        return wanted
    if ctx.payload.get("allow_partial") is True and have > 0:
        return have
    raise DomainError("insufficient_balance", "not enough bonuses on the card", balance=have)


def apply_redeem(ctx: OperationContext) -> dict:
    _require_role(ctx, "cashier")
    card = _card(ctx.conn, _text(ctx.payload, "card_number"), lock=True)
    amount = _spendable(ctx, card, _amount(ctx.payload))
    _verify(ctx, "redeem", card, amount)
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="redemption",
                amount=-amount, at=ctx.at)
    return {"redeemed": amount, "balance": ledger.balance(ctx.conn, card["number"])}


def _sale(ctx: OperationContext, sale_id: str) -> dict:
    # Locked: returns and cancels of one sale decide on its returned amount one after the other.
    row = ctx.conn.execute(select(sales).where(sales.c.operation_id == sale_id).with_for_update()
                           ).mappings().first()
    if row is None:
        raise DomainError("sale_not_found", "no applied sale has this id")
    if row["cancelled_by"] is not None:
        raise DomainError("already_cancelled", "this sale was cancelled")
    _within_return_days(ctx, row["at"])
    return dict(row)


def _within_return_days(ctx: OperationContext, sold_at: datetime) -> None:
    days = ctx.setting("return_days")
    if days is not None and ctx.at - clock.aware(sold_at) > timedelta(days=int(days)):
        raise DomainError("return_period_over", f"the sale is older than the shop's {int(days)} days for returns",
                          return_days=int(days))


def apply_return(ctx: OperationContext) -> dict:
    """Goods of a sale come back: its accrual is taken back and its spent bonuses refunded, pro rata.

    When the accrual to take back was already spent, the card cannot give it: the shop either refuses
    the return (`return_shortfall = "refuse"`) or pays the shortfall out of the money refund
    ("reduce_refund"), so buying, spending the bonus and returning never leaves the customer ahead.
    """
    _require_role(ctx, "cashier")
    sale = _sale(ctx, _text(ctx.payload, "sale_id", max_len=36))
    amount = _amount(ctx.payload)
    if amount > sale["amount"] - sale["returned_amount"]:
        raise DomainError("return_too_large", "more is returned than is left of the sale",
                          returnable=sale["amount"] - sale["returned_amount"])
    # after the sale: one lock order for all; a lost card's sale settles on the card that replaced it
    card = _card(ctx.conn, current_number(ctx.conn, sale["card_number"]), lock=True)
    before, after = sale["returned_amount"], sale["returned_amount"] + amount

    def share(total: int) -> int:
        # Cumulative targets make the last return settle exactly what the earlier ones left.
        return total * after // sale["amount"] - total * before // sale["amount"]

    take, refund, money = share(sale["accrued"]), share(sale["redeemed"]), share(sale["paid"])
    have = ledger.balance(ctx.conn, card["number"])
    shortfall = max(0, take - refund - have)
    if shortfall and (ctx.setting("return_shortfall") == "refuse" or shortfall > money):
        raise DomainError("bonuses_already_spent", "the bonuses this sale earned were already spent",
                          shortfall=shortfall)
    if refund:
        _verify(ctx, "return", card, refund)
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="return_refund",
                amount=refund, at=ctx.at)
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="return_take",
                amount=-(take - shortfall), at=ctx.at)
    # Conditional on what was read: a second line of defence should a caller ever skip the lock.
    done = ctx.conn.execute(update(sales).where(
        sales.c.operation_id == sale["operation_id"], sales.c.returned_amount == before,
        sales.c.cancelled_by.is_(None),
    ).values(returned_amount=after, accrual_taken=sales.c.accrual_taken + take,
             redeem_refunded=sales.c.redeem_refunded + refund,
             money_refunded=sales.c.money_refunded + money - shortfall)).rowcount
    if done != 1:
        raise DomainError("conflict", "the sale changed meanwhile; send the return again")
    return {"sale_id": sale["operation_id"], "returned": amount, "money_refund": money - shortfall,
            "bonuses_taken": take - shortfall, "bonuses_refunded": refund, "bonus_payment_refunded": refund,
            "shortfall": shortfall, "card_number": card["number"],
            "balance": ledger.balance(ctx.conn, card["number"])}


def apply_cancel(ctx: OperationContext) -> dict:
    """Undoes a whole sale or redemption; refused when the card no longer holds what it earned."""
    _require_role(ctx, "cashier")
    target_id = _text(ctx.payload, "operation_id", max_len=36)
    target = ctx.conn.execute(select(operations.c.type, operations.c.status, operations.c.card_number)
                              .where(operations.c.id == target_id)).mappings().first()
    if target is None or target["status"] != "applied" or target["type"] not in ("sale", "redeem"):
        raise DomainError("not_cancellable", "only an applied sale or redemption can be cancelled")
    sale = _sale(ctx, target_id) if target["type"] == "sale" else None
    if sale is not None and sale["returned_amount"]:
        raise DomainError("already_returned", "goods of this sale were returned; return the rest instead")
    rows = ctx.conn.execute(select(ledger_table.c.card_number, func.sum(ledger_table.c.amount))
                            .where(ledger_table.c.operation_id == target_id)
                            .group_by(ledger_table.c.card_number)).all()
    # A sale made with a card since replaced is undone on the card its balance moved to.
    merged: dict[str, int] = {}
    for number, net in rows:
        moved_to = current_number(ctx.conn, number)
        merged[moved_to] = merged.get(moved_to, 0) + int(net)
    rows = list(merged.items())
    for number, _net in sorted(rows):  # sorted: two cancels lock their cards in the same order
        ctx.conn.execute(_CARD_LOCKED, {"number": number})
    for number, net in rows:
        if ledger.balance(ctx.conn, number) - int(net) < 0:
            raise DomainError("bonuses_already_spent", "the bonuses this operation gave were already spent")
    try:
        with ctx.conn.begin_nested():
            ctx.conn.execute(insert(cancellations).values(target_id=target_id, operation_id=ctx.op["id"]))
    except IntegrityError:
        raise DomainError("already_cancelled", "this operation was cancelled already") from None
    for number, net in rows:
        ledger.post(ctx.conn, card_number=number, operation_id=ctx.op["id"], kind="reversal", amount=-int(net),
                    at=ctx.at)
    if sale is not None:
        done = ctx.conn.execute(update(sales).where(
            sales.c.operation_id == target_id, sales.c.returned_amount == 0, sales.c.cancelled_by.is_(None),
        ).values(cancelled_by=ctx.op["id"], money_refunded=sale["paid"])).rowcount
        if done != 1:
            raise DomainError("conflict", "the sale changed meanwhile; send the cancel again")
    # The ledger names the main card even when the operation was made with an extra number.
    number = current_number(ctx.conn, sale["card_number"]) if sale else (rows[0][0] if rows else None)
    return {"cancelled": target_id, "money_refund": sale["paid"] if sale else 0, "card_number": number,
            "bonuses": -sum(int(net) for _, net in rows), "balance": ledger.balance(ctx.conn, number) if number else 0}


def preview_sale(conn: Connection, device: dict, payload: dict, at: datetime | None = None) -> dict:
    """What a `sale` with this payload would book now (POST /receipts:preview): the same engine, no writes."""
    ctx = OperationContext(conn, {"at": _utc(at or clock.now()), "payload": payload}, device, {})
    card = _card(conn, _text(payload, "card_number"))
    r = receipts.price(ctx, card, _amount(payload), _bonus_payment(payload),
                       allow_partial=payload.get("allow_partial") is True)
    return {**r.preview(), "card_number": card["number"], "at": ctx.at.isoformat()}


# The back office's operations (store_server/admin): they go through apply_one like a device's, as the
# pseudo-device ADMIN_DEVICE, so they are recorded, idempotent and written to the ledger the same way.
ADMIN_DEVICE = {"id": "admin", "role": "admin"}
MAX_REASON = 500


def _reason(payload: dict) -> str:
    reason = payload.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise DomainError("reason_required", f"say why, in at most {MAX_REASON} characters")
    return reason.strip()


def apply_adjust(ctx: OperationContext) -> dict:
    """A manual balance correction by the owner: a signed amount and the reason, one ledger row."""
    _require_role(ctx, "admin")
    card = _card(ctx.conn, _text(ctx.payload, "card_number"), lock=True)  # a till may be spending it now
    amount = ctx.payload.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0 or abs(amount) > MAX_AMOUNT:
        raise DomainError("bad_amount", "the correction is a non-zero whole number of minor units")
    _reason(ctx.payload)
    have = ledger.balance(ctx.conn, card["number"])
    if have + amount < 0:
        raise DomainError("insufficient_balance", "the balance cannot go below zero", balance=have)
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="adjustment",
                amount=amount, at=ctx.at)
    return {"adjusted": amount, "balance": have + amount}


def apply_opening(ctx: OperationContext) -> dict:
    """The balance a customer brought from the shop's old system (the back office's CSV import): one ledger row
    on a card that has never had one, so an opening balance is booked once and never on top of real activity."""
    _require_role(ctx, "admin")
    card = _card(ctx.conn, _text(ctx.payload, "card_number"), lock=True)
    amount = ctx.payload.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or amount > MAX_AMOUNT:
        raise DomainError("bad_amount", "an opening balance is a positive whole number of minor units")
    if ledger.history(ctx.conn, card["number"], limit=1):
        raise DomainError("card_has_history", "the card already has bonus history; correct its balance instead")
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="opening", amount=amount,
                at=ctx.at)
    return {"opening": amount, "balance": amount}


def apply_replace(ctx: OperationContext) -> dict:
    """A lost card replaced: the balance, the customer (so the phone) and the extra numbers move to an issued
    card; the old number stays, in state "replaced", so devices scanning it are told so."""
    _require_role(ctx, "admin")
    conn = ctx.conn
    old = _card(conn, _text(ctx.payload, "card_number"))
    if old["state"] != "active" or old["customer_id"] is None:
        raise DomainError("card_not_active", "only an active card can be replaced")
    # A binding's lock order (binding.lock): the phone, then the cards (in number order, for two at once);
    # then both read again, as a till may have spent from the old or bound the new one meanwhile.
    phone = conn.execute(select(customers.c.phone).where(customers.c.id == old["customer_id"])).scalar()
    if phone:
        db.lock_key(conn, "phone", phone)
    new_number = _text(ctx.payload, "new_number")
    for number in sorted({old["number"], new_number}):
        conn.execute(_CARD_LOCKED, {"number": number})
    old = _card(conn, old["number"])
    if old["state"] != "active" or old["customer_id"] is None:
        raise DomainError("card_not_active", "only an active card can be replaced")
    new = conn.execute(_CARD, {"number": new_number}).mappings().first()
    if new is None:
        raise DomainError("card_not_found", "the new card is not one of ours")
    if new["number"] == old["number"]:
        raise DomainError("same_card", "the new card is the old one")
    if new["state"] != "issued" or new["customer_id"] is not None or new["reserved_phone"]:
        raise DomainError("card_not_free", "the new card must be a fresh, not activated card")
    if conn.execute(select(till_activations.c.id).where(till_activations.c.card_number == new["number"],
                                                        till_activations.c.state == "pending")).first():
        raise DomainError("activation_pending", "the new card waits for an activation review")
    _reason(ctx.payload)
    moved = ledger.balance(conn, old["number"])
    ledger.post(conn, card_number=old["number"], operation_id=ctx.op["id"], kind="transfer_out", amount=-moved,
                at=ctx.at)
    ledger.post(conn, card_number=new["number"], operation_id=ctx.op["id"], kind="transfer_in", amount=moved,
                at=ctx.at)
    # The old card keeps its customer_id so the customer's history still finds it.
    conn.execute(update(cards).where(cards.c.number == old["number"]).values(state="replaced"))
    conn.execute(update(cards).where(cards.c.number == new["number"]).values(
        state="active", customer_id=old["customer_id"], activated_at=ctx.at))
    conn.execute(update(card_numbers).where(card_numbers.c.card_number == old["number"])
                 .values(card_number=new["number"]))
    conn.execute(insert(card_replacements).values(old_number=old["number"], new_number=new["number"],
                                                  operation_id=ctx.op["id"], at=ctx.at))
    return {"card_number": old["number"], "new_number": new["number"], "moved": moved,
            "balance": ledger.balance(conn, new["number"])}


APPLIERS: dict[str, Callable[[OperationContext], dict]] = {
    "register": apply_register,
    "update_customer": apply_update_customer,
    "sale": apply_sale,
    "redeem": apply_redeem,
    "return": apply_return,
    "cancel": apply_cancel,
    "adjust": apply_adjust,
    "opening": apply_opening,
    "replace": apply_replace,
}


def _same_payload(a: object, b: object) -> bool:
    # The stored payload came back through JSON; compare both in that form.
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _replay(conn: Connection, op: dict, device: dict, row=None) -> dict:
    """The answer to an id the server has seen: the first result, but only to the device that sent it and
    only for the same operation. Ids are the devices' own; another device's id, or the same id with other
    content, is refused and learns nothing of the first (its result holds a card's balance)."""
    op_id = op["id"]
    row = row or conn.execute(_REPLAY, {"op_id": op_id}).mappings().one()
    if row["device_id"] != device["id"] or row["type"] != op["type"] or not _same_payload(
            row["payload"], op.get("payload") or {}):
        return {"id": op_id, "status": "rejected", "error": "id_reused",
                "message": "this operation id was already used for another operation; give it a new id"}
    if row["status"] == "rejected":
        return {"id": op_id, "status": "rejected", "error": row["error"], "message": row["result"]["message"]}
    return {"id": op_id, "status": "duplicate", "result": row["result"]}


def _utc(at: datetime) -> datetime:
    # SQLite keeps datetimes as zone-less text, so everything stored must be in one zone to compare.
    return clock.aware(at).astimezone(UTC)


def apply_one(conn: Connection, op: dict, device: dict, cache: dict | None = None) -> dict:
    op_id = op["id"]
    try:
        op = {**op, "at": _utc(op["at"])}
    except (OverflowError, ValueError):
        # Year 1 at +05:00 has no UTC form; there is nothing to store, and a retry gets the same answer.
        return {"id": op_id, "status": "rejected", "error": "bad_time", "message": "the time cannot be stored"}
    payload = op.get("payload") or {}
    number = payload.get("card_number")
    row = dict(id=op_id, device_id=device["id"], type=op["type"], at=op["at"], received_at=clock.now(),
               cashier=op.get("cashier"), card_number=str(number)[:32] if isinstance(number, str | int) else None,
               payload=payload, status="applied", error=None, result=None, shop=device.get("shop"))
    # One savepoint per operation: the row goes in first, so a second delivery of the same id (a retry,
    # or another server process racing this one) fails on the primary key before anything is applied.
    try:
        with conn.begin_nested():
            conn.execute(_INSERT_OP, row)
            if op.get("device_id") not in (None, device["id"]):
                raise DomainError("device_mismatch", "the operation belongs to another device")
            if op.get("refusal"):
                raise DomainError(*op["refusal"])
            applier = APPLIERS.get(op["type"])
            if applier is None:
                raise DomainError("unknown_type", f"unknown operation type {op['type']!r}")
            ctx = OperationContext(conn, op, device, {} if cache is None else cache)
            cashiers.check_operation(ctx.cached("cashiers", cashiers.states), op, device)
            result = applier(ctx)
            conn.execute(_SET_RESULT, {"op_id": op_id, "result": result})
        _flag_clock(conn, op, device)
        return {"id": op_id, "status": "applied", "result": result}
    except IntegrityError:
        if conn.execute(_REPLAY, {"op_id": op_id}).first() is not None:
            return _replay(conn, op, device)
        # Not our id but another unique key (two devices registering one phone at once): a plain refusal.
        e = DomainError("conflict", "a concurrent operation changed the same record; send it again")
        conn.execute(_INSERT_OP, {**row, "status": "rejected", "error": e.code, "result": {"message": e.message}})
        return {"id": op_id, "status": "rejected", "error": e.code, "message": e.message}
    except DomainError as e:
        # The savepoint undid everything the operation did; what stays is the record that it was refused.
        conn.execute(_INSERT_OP, {**row, "status": "rejected", "error": e.code, "result": {"message": e.message}})
        _flag_clock(conn, op, device)
        return {"id": op_id, "status": "rejected", "error": e.code, "message": e.message}
    except DBAPIError as e:
        if db.retryable(e) or e.connection_invalidated:
            raise  # the whole transaction goes again (db.run_write) or the request fails: nothing half-done
        return _internal_error(conn, row, e)
    except Exception as e:  # noqa: BLE001 - whatever it is, it must not stop the rest of the batch
        return _internal_error(conn, row, e)


INTERNAL_ERROR = "the server could not apply this operation; it was set aside and the rest of the batch applied"


def _internal_error(conn: Connection, row: dict, exc: BaseException) -> dict:
    """An operation that raised something unforeseen is refused on its own; its batch goes on.

    Without this one poisoned operation (a date the database cannot store, a NUL character) would fail its
    batch with a 500 every time, and the device would resend that batch for ever. Its savepoint was already
    rolled back; the refusal is recorded (without the payload, if even that cannot be stored) so a retry gets
    the same answer and `store-server audit` shows it.
    """
    log.error("operation %r (%s) failed unexpectedly and was rejected on its own", row["id"], row["type"],
              exc_info=exc)
    rejected = {**row, "status": "rejected", "error": "internal_error", "result": {"message": INTERNAL_ERROR}}
    for attempt in (rejected, {**rejected, "payload": {}, "cashier": None, "card_number": None}):
        try:
            with conn.begin_nested():
                conn.execute(_INSERT_OP, attempt)
            break
        except DBAPIError as e:
            if db.retryable(e) or e.connection_invalidated:
                raise
        except Exception:  # noqa: BLE001, S110 - then it is answered without a record
            pass
    return {"id": row["id"], "status": "rejected", "error": "internal_error", "message": INTERNAL_ERROR}


def _plain_sale(op: dict, device: dict) -> bool:
    """A sale that spends no bonuses, from this device: it only earns, so it needs no card lock."""
    p = op.get("payload") or {}
    if op["type"] != "sale" or op.get("device_id") not in (None, device["id"]):
        return False
    return all(p.get(key) is None or (type(p[key]) is int and p[key] == 0) for key in ("redeem", "bonus_payment"))


def _plain_sales(ops: list[dict], device: dict) -> bool:
    """A till's usual batch: only sales that spend no bonuses, each id once, all from this device."""
    if device.get("role") != "cashier" or len(ops) < 2 or len({op["id"] for op in ops}) != len(ops):
        return False
    return all(_plain_sale(op, device) for op in ops)


def _runs(ops: list[dict], device: dict) -> list[tuple[bool, list[dict]]]:
    """The batch cut, in its order, into runs of plain sales (True) and runs of everything else (False).

    A redemption among a till's sales sends only itself the careful way: the sales before it are written
    (in bulk) before it reads the card's balance, the sales after it after, exactly as one by one.
    """
    runs: list[tuple[bool, list[dict]]] = []
    for op in ops:
        plain = device.get("role") == "cashier" and _plain_sale(op, device)
        if runs and runs[-1][0] == plain:
            runs[-1][1].append(op)
        else:
            runs.append((plain, [op]))
    return runs


# The bulk shortcut's look-ups, built once: a statement built per call costs SQLAlchemy a cache key each time.
# Each takes a batch's ids or card numbers (db.InList); _SEEN reads the rows of ids the server already has.
_SEEN_IDS = db.InList(select(operations.c.id).where(operations.c.id.in_(bindparam("ids", expanding=True))), "ids")
_SEEN = select(operations.c.id, operations.c.status, operations.c.error, operations.c.result, operations.c.device_id,
               operations.c.type, operations.c.payload).where(operations.c.id.in_(bindparam("ids", expanding=True)))
# Only what a plain sale reads of a card.
_CARDS = db.InList(select(cards.c.number, cards.c.state, cards.c.kind, cards.c.discount_percent, cards.c.card_type,
                          cards.c.customer_id).where(cards.c.number.in_(bindparam("numbers", expanding=True))),
                   "numbers")
_BALANCES = db.InList(select(ledger_table.c.card_number, func.sum(ledger_table.c.amount))
                      .where(ledger_table.c.card_number.in_(bindparam("numbers", expanding=True)))
                      .group_by(ledger_table.c.card_number), "numbers")
_RECEIPT_NOS = db.InList(select(receipts_table.c.operation_id, receipts_table.c.no).where(
    receipts_table.c.operation_id.in_(bindparam("ids", expanding=True))), "ids")
# The columns the shortcut writes, in the order of its row tuples (db.insert_rows).
_OP_COLUMNS = ("id", "device_id", "type", "at", "received_at", "cashier", "card_number", "payload", "status",
               "error", "result", "shop")
_SALE_COLUMNS = ("operation_id", "card_number", "customer_id", "at", "amount", "discount", "redeemed", "paid",
                 "accrued", "returned_amount", "accrual_taken", "redeem_refunded", "money_refunded", "cancelled_by")
_LEDGER_COLUMNS = ("card_number", "operation_id", "kind", "amount", "at")


def _apply_sales_in_bulk(conn: Connection, ops: list[dict], device: dict, cache: dict) -> list[dict] | None:
    """The same results as applying the sales one by one, written with a multi-row INSERT per table.

    Returns None, before writing anything, whenever the batch needs anything the one-by-one path does (tiers,
    discount codes, extra card numbers), which then runs instead: this is only a shortcut. An id another
    process delivered meanwhile fails its INSERT, and the batch goes one by one (_bulk).
    """
    if not _plain_sales(ops, device):
        return None
    ctx = OperationContext(conn, ops[0], device, cache)
    if ctx.cached("tiers", tiers.load) or (ctx.setting("code_required") or {}).get("discount"):
        return None
    try:
        times = [_utc(op["at"]) for op in ops]
    except (OverflowError, ValueError):
        return None
    ids = [op["id"] for op in ops]
    known = [r[0] for r in _SEEN_IDS.rows(conn, ids)]  # a retried batch; none in the usual one
    seen = {r["id"]: r for r in conn.execute(_SEEN, {"ids": known}).mappings()} if known else {}
    wanted = {str(n) for op in ops if isinstance(n := (op.get("payload") or {}).get("card_number"), str | int)}
    found = {r.number: r for r in _CARDS.rows(conn, list(wanted))}
    if len(found) != len(wanted):
        return None
    balances = dict(_BALANCES.rows(conn, list(found)))
    loaded, zone, now = ctx.cached("rules", rules.load), ctx.setting("timezone"), clock.now()
    known_cashiers, device_id, device_shop = ctx.cached("cashiers", cashiers.states), device["id"], ctx.shop
    results: list[dict | None] = []
    op_rows: list[tuple] = []
    ledger_rows: list[tuple] = []
    sale_rows: list[tuple] = []
    for op, at in zip(ops, times, strict=True):
        op_id = op["id"]
        if op_id in seen:
            results.append(None)
            continue
        payload = op.get("payload") or {}
        number = payload.get("card_number")
        head = (op_id, device_id, "sale", at, now, op.get("cashier"),
                str(number)[:32] if isinstance(number, str | int) else None, payload)
        try:
            cashiers.check_operation(known_cashiers, op, device)
            card = found.get(_text(payload, "card_number"))
            if card.state == "blocked":
                raise DomainError("card_blocked", "this card is blocked")
            if card.state == "replaced":
                raise DomainError("card_replaced", "this card was replaced by a new one")
            amount = _amount(payload)
        except DomainError as e:
            op_rows.append((*head, "rejected", e.code, {"message": e.message}, device_shop))
            results.append({"id": op_id, "status": "rejected", "error": e.code, "message": e.message})
            continue
        number = card.number
        discount = amount * card.discount_percent // 100 if card.kind == "discount" else 0
        paid = amount - discount
        accrued = (rules.accrual(loaded, paid, at=at, timezone=zone, card_type=card.card_type, shop=device_shop)
                   if card.kind == "bonus" and paid else 0)
        balances[number] = balance = int(balances.get(number) or 0) + accrued
        result = _sale_result(amount, discount, 0, accrued, None, balance, 0)
        op_rows.append((*head, "applied", None, result, device_shop))
        if accrued:
            ledger_rows.append((number, op_id, "accrual", accrued, at))
        sale_rows.append((op_id, number, card.customer_id, at, amount, discount, 0, paid, accrued, 0, 0, 0, 0, None))
        results.append({"id": op_id, "status": "applied", "result": result})
    if sale_rows:
        # Receipt numbers first: the results stored with the operations carry them.
        sold = [row[0] for row in sale_rows]
        db.insert_rows(conn, receipts_table, ("operation_id",), [(op_id,) for op_id in sold])
        numbers = dict(_RECEIPT_NOS.rows(conn, sold))
        for r in results:
            if r is not None and r["status"] == "applied":
                r["result"]["receipt_no"] = numbers[r["id"]]
    db.insert_rows(conn, operations, _OP_COLUMNS, op_rows)
    db.insert_rows(conn, ledger_table, _LEDGER_COLUMNS, ledger_rows)
    db.insert_rows(conn, sales, _SALE_COLUMNS, sale_rows)
    return [r if r is not None else _replay(conn, op, device, seen[op["id"]])
            for r, op in zip(results, ops, strict=True)]


class _OneByOne(Exception):  # noqa: N818 - a signal, not an error
    """The shortcut could not write a run: the batch's transaction is rolled back and it runs again one by one."""


def _bulk(conn: Connection, ops: list[dict], device: dict, cache: dict) -> list[dict] | None:
    """The shortcut, without a savepoint of its own: SQLite copies every page a savepoint's statements touch,
    to be able to undo them (a sixth of a batch's time), and PostgreSQL gives each a subtransaction. Should
    anything go wrong in it (another process delivered one of these ids meanwhile, something unforeseen), the
    whole batch runs again one by one in a new transaction (apply_batch), where apply_one isolates the
    operation that caused it."""
    try:
        return _apply_sales_in_bulk(conn, ops, device, cache)
    except DBAPIError as e:
        if db.retryable(e) or e.connection_invalidated:
            raise
        raise _OneByOne from e
    except Exception as e:  # noqa: BLE001 - apply_one logs it with the operation's id
        raise _OneByOne from e


BULK = True  # tests switch it off to compare the shortcut with the one-by-one path


def judge_time(op: dict, offset: timedelta | None, now: datetime) -> None:
    """Moves an operation's time by its device's clock offset, or marks it refused (device_clock.py)."""
    try:
        at = _utc(op["at"])
    except (OverflowError, ValueError):
        return  # apply_one answers bad_time
    used, reason, refusal = device_clock.decide(at, offset, now)
    if refusal is not None:
        op["refusal"] = (refusal, device_clock.REFUSALS[refusal])
    else:
        op["at"] = used
    if reason is not None or refusal is not None:
        op["clock"] = dict(device_at=at, used_at=None if refusal else used, offset=offset,
                           reason=refusal or reason)


def _flag_clock(conn: Connection, op: dict, device: dict) -> None:
    if op.get("clock"):
        device_clock.flag(conn, op_id=op["id"], device_id=device["id"], now=clock.now(), **op["clock"])


def apply_batch(engine: Engine, ops: list[dict], given: dict, *, clock_offset: timedelta | None = None) -> list[dict]:
    if len(ops) > MAX_BATCH:
        raise DomainError("batch_too_large", f"at most {MAX_BATCH} operations per batch")

    def work(conn: Connection, bulk: bool) -> list[dict]:
        cache: dict = {}  # per attempt: a retried transaction reads everything afresh
        device = devices.current(conn, given)  # its shop now, not as the key cache last saw it
        if clock_offset is not None:
            device_clock.record_offset(conn, device["id"], clock_offset, clock.now())
        # Corrected or refused times are flagged one by one: the bulk shortcut is for the ordinary batch.
        if not bulk or any(op.get("clock") for op in ops):
            return [apply_one(conn, op, device, cache) for op in ops]
        results: list[dict] = []
        for plain, run in _runs(ops, device):
            fast = _bulk(conn, run, device, cache) if plain else None
            results.extend(fast if fast is not None else (apply_one(conn, op, device, cache) for op in run))
        return results

    try:
        return db.run_write(engine, lambda conn: work(conn, BULK))
    except _OneByOne as e:
        log.info("a batch's bulk write failed (%s); applying it one by one", type(e.__cause__).__name__)
        return db.run_write(engine, lambda conn: work(conn, False))


def apply_admin(engine: Engine, op_type: str, payload: dict, *, by: str, op_id: str | None = None,
                then: Callable[[Connection, dict], None] | None = None) -> dict:
    """Applies a back-office operation (adjust, replace) as ADMIN_DEVICE; raises DomainError when refused.

    `op_id` comes from the form that asked for it, so a double submit applies it once (the second answer
    is the first one's result). `then` runs in the same transaction once it applied (the audit row).
    """
    import uuid

    op = {"id": op_id or str(uuid.uuid4()), "type": op_type, "at": clock.now(), "cashier": by,
          "payload": payload}

    def work(conn: Connection) -> tuple[dict, dict]:
        result = apply_one(conn, op, ADMIN_DEVICE, {})
        done = {"id": op["id"], **(result.get("result") or {})}
        if result["status"] == "applied" and then is not None:
            then(conn, done)
        return result, done

    result, done = db.run_write(engine, work)
    if result["status"] == "rejected":
        raise DomainError(result["error"], result["message"])
    return done


def expire_bonuses(engine: Engine, *, now: datetime | None = None) -> int:
    """Writes off bonuses older than the shop's `bonus_expiry_days`; one audited operation per card."""
    import uuid

    now = now or clock.now()
    with db.write_transaction(engine) as conn:
        days = shop.get(conn, "bonus_expiry_days")
        if not days:
            return 0
        cutoff, total = now - timedelta(days=int(days)), 0
        for number in ledger.cards_with_balance(conn):
            conn.execute(_CARD_LOCKED, {"number": number})  # a redemption at a till may be spending it now
            amount = ledger.expiring(conn, number, cutoff)
            if amount <= 0:
                continue
            op_id = str(uuid.uuid4())
            conn.execute(insert(operations).values(
                id=op_id, device_id="server", type="expire", at=now, received_at=now, card_number=number,
                payload={"cutoff": cutoff.isoformat()}, status="applied", result={"expired": amount}))
            ledger.post(conn, card_number=number, operation_id=op_id, kind="expiry", amount=-amount, at=now)
            total += amount
        return total
