"""A receipt's figures: discount, bonuses paid, money to pay and the bonus earned, from one engine.

`price` is what a `sale` books (operations.apply_sale) and what `POST /receipts:preview` shows the cashier
before Confirm, so the till can never promise one thing and the ledger book another
(tests/server/test_receipts.py compares them over random receipts and times).

The accrual is earned on the money actually paid: a purchase of 250 paid 10 with bonuses earns on 240,
and its return gives those 10 back pro rata (operations.apply_return).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..data.db import receipts
from ..errors import DomainError
from ..messaging import codes as otp
from . import entries as ledger
from . import rules, tiers


class Context(Protocol):
    """What the engine needs of an operation's context (operations.OperationContext)."""

    conn: Connection
    at: datetime
    shop: str | None  # the device's shop: rules and tiers limited to some shops apply only there

    def setting(self, key: str): ...

    def cached(self, key: str, load): ...


@dataclass(frozen=True)
class Receipt:
    amount: int
    discount: int
    bonus_payment: int
    max_bonus_payment: int  # what this card may pay with bonuses on this receipt (balance and the shop's cap)
    to_pay: int  # money: amount - discount - bonus_payment
    accrued: int
    tier: str | None
    balance_before: int
    code_purpose: str | None  # the SMS code this receipt needs: None, "discount", "redeem" or "sale" (both)
    code_amount: int | None  # the amount that code is bound to

    @property
    def balance_after(self) -> int:
        return self.balance_before - self.bonus_payment + self.accrued

    def preview(self) -> dict:
        return {**asdict(self), "balance_after": self.balance_after}


def cap(ctx: Context, payable: int) -> int:
    """The share of a receipt (after discount) the shop lets customers pay with bonuses."""
    percent = ctx.setting("bonus_payment_max_percent")
    percent = 100 if percent is None else max(0, min(100, int(percent)))
    return payable * percent // 100


BY_TURNOVER = object()  # price()'s tier: the customer's own, from their turnover (what a sale books)


def accrual(ctx: Context, card: dict, paid: int, tier=BY_TURNOVER) -> tuple[int, str | None]:
    """Bonus earned on `paid` by the rules and the customer's tier at the receipt's time (or by `tier`, a
    tiers.Tier or None, for the back office's "what would a receipt earn" preview)."""
    if card["kind"] != "bonus" or paid == 0:
        return 0, None
    shop = ctx.shop
    bonus = rules.accrual(ctx.cached("rules", rules.load), paid, at=ctx.at, timezone=ctx.setting("timezone"),
                          card_type=card["card_type"], shop=shop)
    if tier is not BY_TURNOVER:
        return bonus + (paid * tier.rate // 10_000 if tier else 0), tier.name if tier else None
    loaded = ctx.cached("tiers", tiers.load)
    tier = None
    if loaded:
        turnover = tiers.turnover(ctx.conn, customer_id=card["customer_id"], card_number=card["number"],
                                  at=ctx.at, days=int(ctx.setting("tier_period_days")))
        tier = tiers.tier_for(loaded, turnover, shop=shop)
        if tier is not None:
            bonus += paid * tier.rate // 10_000
    return bonus, tier.name if tier else None


def code_needed(ctx: Context, discount: int, bonus_payment: int) -> tuple[str | None, int | None]:
    """The one code a receipt needs: a sale taking both a discount and bonuses, where the shop wants a
    code for each, is settled by one code of purpose "sale" for their sum (one token per operation)."""
    needed = [(purpose, value) for purpose, value in (("discount", discount), ("redeem", bonus_payment))
              if value and otp.code_required(ctx.setting, purpose, value)]
    if len(needed) == 2:
        return "sale", discount + bonus_payment
    if needed:
        return needed[0]
    return None, None


def price(ctx: Context, card: dict, amount: int, wanted: int, *, allow_partial: bool, tier=BY_TURNOVER) -> Receipt:
    """The receipt `card` gets for `amount` with `wanted` paid in bonuses; refusals as the sale's."""
    discount = amount * card["discount_percent"] // 100 if card["kind"] == "discount" else 0
    payable = amount - discount
    have = ledger.balance(ctx.conn, card["number"])
    limit = cap(ctx, payable)
    most = max(0, min(have, limit))
    bonus_payment = 0
    if wanted:
        if wanted > payable:
            wanted = payable  # the receipt cannot be paid more than in full
        if wanted > limit and not allow_partial:
            raise DomainError("bonus_payment_over_cap", "the shop lets at most this much of the receipt be paid "
                                                        "with bonuses", max_bonus_payment=most, balance=have)
        if min(wanted, limit) > have and not (allow_partial and have > 0):
            raise DomainError("insufficient_balance", "not enough bonuses on the card", balance=have,
                              max_bonus_payment=most)
        bonus_payment = min(wanted, most)
    to_pay = payable - bonus_payment
    accrued, tier = accrual(ctx, card, to_pay, tier)
    purpose, code_amount = code_needed(ctx, discount, bonus_payment)
    return Receipt(amount=amount, discount=discount, bonus_payment=bonus_payment, max_bonus_payment=most,
                   to_pay=to_pay, accrued=accrued, tier=tier, balance_before=have, code_purpose=purpose,
                   code_amount=code_amount)


def receipt_no(conn: Connection, operation_id: str) -> int | None:
    return conn.execute(select(receipts.c.no).where(receipts.c.operation_id == operation_id)).scalar()


# --- Sales a till can return or cancel, from any till of the shop -------------------------------------------

RECEIPT_QR = "lk://receipt/"


def _sales_query():
    from ..data.db import devices, operations, sales

    return (select(sales, receipts.c.no.label("receipt_no"), devices.c.name.label("device_name"),
                   operations.c.cashier)
            .select_from(sales.join(operations, operations.c.id == sales.c.operation_id)
                         .outerjoin(receipts, receipts.c.operation_id == sales.c.operation_id)
                         .outerjoin(devices, devices.c.id == operations.c.device_id)))


def sale_view(row, cashier_names: dict[str, str]) -> dict:
    from .. import clock

    cancelled = row["cancelled_by"] is not None
    return {
        "operation_id": row["operation_id"],
        "receipt_no": row["receipt_no"],
        "at": clock.aware(row["at"]).isoformat(),
        "card_number": row["card_number"],
        "amount": row["amount"],
        "discount": row["discount"],
        "bonus_payment": row["redeemed"],
        "to_pay": row["paid"],
        "accrued": row["accrued"],
        "returned_amount": row["returned_amount"],
        "returnable_amount": 0 if cancelled else row["amount"] - row["returned_amount"],
        "bonus_payment_refunded": row["redeem_refunded"],
        "cancelled": cancelled,
        "cancellable": not cancelled and row["returned_amount"] == 0,
        "device_name": row["device_name"],
        "cashier_name": cashier_names.get(row["cashier"] or "", row["cashier"]),
    }


def card_sales(conn: Connection, number: str, *, now: datetime, return_days: int | None, limit: int = 20) -> list:
    """The card's sales still returnable or cancellable, newest first (extra numbers mean their card)."""
    from datetime import timedelta

    from .. import cards, cashiers
    from ..data.db import sales

    main = cards.resolve(conn, number)
    if main is None:
        from ..errors import NotFound

        raise NotFound("card_not_found", "this card is not one of ours")
    query = (_sales_query().where(sales.c.card_number == main, sales.c.cancelled_by.is_(None),
                                  sales.c.returned_amount < sales.c.amount)
             .order_by(sales.c.at.desc(), receipts.c.no.desc()).limit(limit))
    if return_days is not None:
        query = query.where(sales.c.at >= now - timedelta(days=int(return_days)))
    names = cashiers.names(conn)
    return [sale_view(row, names) for row in conn.execute(query).mappings()]


def find_sale(conn: Connection, receipt: str) -> dict:
    """A sale by its operation id, its printed receipt number or the receipt's QR (lk://receipt/<id>)."""
    from .. import cashiers
    from ..data.db import sales
    from ..errors import NotFound

    receipt = receipt.strip()
    if receipt.startswith(RECEIPT_QR):
        receipt = receipt[len(RECEIPT_QR):]
    row = None
    if receipt.isascii() and receipt.isdigit() and len(receipt) <= 18:
        row = conn.execute(_sales_query().where(receipts.c.no == int(receipt))).mappings().first()
    if row is None and 0 < len(receipt) <= 36:
        row = conn.execute(_sales_query().where(sales.c.operation_id == receipt)).mappings().first()
    if row is None:
        raise NotFound("sale_not_found", "no sale has this receipt number")
    return sale_view(row, cashiers.names(conn))
