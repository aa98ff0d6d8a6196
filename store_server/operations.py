"""Applying device operations: each id at most once, each in its own savepoint, results per id."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from . import clock, ledger, otp, rules
from .db import cards, customers, operations
from .errors import DomainError

MAX_BATCH = 500

# SQLite serialises writers anyway; taking the lock ourselves keeps read-check-write sequences (balance
# checks) atomic without relying on SQLite's lock upgrade, which fails instead of waiting.
_write_lock = threading.Lock()


class OperationContext:
    def __init__(self, conn: Connection, op: dict, device: dict) -> None:
        self.conn = conn
        self.op = op
        self.device = device
        self.payload = op.get("payload") or {}
        self.at: datetime = op["at"]


def _card(conn: Connection, number: str | None) -> dict:
    if not number:
        raise DomainError("card_required", "the operation names no card")
    row = conn.execute(select(cards).where(cards.c.number == str(number))).mappings().first()
    if row is None:
        raise DomainError("card_not_found", "this card is not one of ours")
    if row["state"] == "blocked":
        raise DomainError("card_blocked", "this card is blocked")
    return dict(row)


def _amount(payload: dict, key: str = "amount") -> int:
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise DomainError("bad_amount", f"{key} must be a positive whole number of minor units")
    return value


def apply_register(ctx: OperationContext) -> dict:
    conn, p = ctx.conn, ctx.payload
    phone = p.get("phone")
    token = otp.consume_token(conn, token=ctx.op.get("verification_token"), purpose="register",
                              operation_id=ctx.op["id"], phone=phone, card_number=p.get("card_number"))
    number = p.get("card_number") or token["card_number"]
    card = _card(conn, number)
    customer = conn.execute(select(customers).where(customers.c.phone == phone)).mappings().first()
    if customer is not None:
        other = conn.execute(select(cards.c.number).where(
            cards.c.customer_id == customer["id"], cards.c.state == "active", cards.c.number != card["number"]
        )).scalar()
        if other:
            raise DomainError("phone_has_card", "this phone already has another card")
    if card["state"] == "active" and (customer is None or card["customer_id"] != customer["id"]):
        raise DomainError("card_bound_to_other", "this card is bound to another phone")
    if customer is None:
        customer_id = conn.execute(insert(customers).values(
            phone=phone, created_at=ctx.at, consent_at=ctx.at if p.get("consent") else None,
            marketing_opt_in=bool(p.get("marketing")), marketing_opt_in_at=ctx.at if p.get("marketing") else None,
        )).inserted_primary_key[0]
    else:
        customer_id = customer["id"]
    conn.execute(update(cards).where(cards.c.number == card["number"]).values(
        state="active", customer_id=customer_id, activated_at=ctx.at, reserved_phone=None))
    return {"card_number": card["number"]}


def apply_sale(ctx: OperationContext) -> dict:
    card = _card(ctx.conn, ctx.payload.get("card_number"))
    amount = _amount(ctx.payload)
    discount = amount * card["discount_percent"] // 100 if card["kind"] == "discount" else 0
    accrued = rules.accrual_for(ctx.conn, amount - discount) if card["kind"] == "bonus" else 0
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="accrual",
                amount=accrued, at=ctx.at)
    return {"accrued": accrued, "discount": discount, "balance": ledger.balance(ctx.conn, card["number"])}


def apply_redeem(ctx: OperationContext) -> dict:
    card = _card(ctx.conn, ctx.payload.get("card_number"))
    amount = _amount(ctx.payload)
    if ledger.balance(ctx.conn, card["number"]) < amount:
        raise DomainError("insufficient_balance", "not enough bonuses on the card")
    ledger.post(ctx.conn, card_number=card["number"], operation_id=ctx.op["id"], kind="redemption",
                amount=-amount, at=ctx.at)
    return {"redeemed": amount, "balance": ledger.balance(ctx.conn, card["number"])}


APPLIERS: dict[str, Callable[[OperationContext], dict]] = {
    "register": apply_register,
    "sale": apply_sale,
    "redeem": apply_redeem,
}


def _replay(conn: Connection, op_id: str) -> dict:
    row = conn.execute(select(operations).where(operations.c.id == op_id)).mappings().one()
    if row["status"] == "rejected":
        return {"id": op_id, "status": "rejected", "error": row["error"], "message": row["result"]["message"]}
    return {"id": op_id, "status": "duplicate", "result": row["result"]}


def apply_one(conn: Connection, op: dict, device: dict) -> dict:
    op_id = op["id"]
    base = dict(id=op_id, device_id=device["id"], type=op["type"], at=op["at"], received_at=clock.now(),
                cashier=op.get("cashier"), card_number=(op.get("payload") or {}).get("card_number"),
                payload=op.get("payload") or {})
    try:
        with conn.begin_nested():
            conn.execute(insert(operations).values(**base, status="applied"))
    except IntegrityError:
        return _replay(conn, op_id)
    try:
        with conn.begin_nested():
            if op.get("device_id") not in (None, device["id"]):
                raise DomainError("device_mismatch", "the operation belongs to another device")
            applier = APPLIERS.get(op["type"])
            if applier is None:
                raise DomainError("unknown_type", f"unknown operation type {op['type']!r}")
            result = applier(OperationContext(conn, op, device))
            conn.execute(update(operations).where(operations.c.id == op_id).values(result=result))
        return {"id": op_id, "status": "applied", "result": result}
    except DomainError as e:
        conn.execute(update(operations).where(operations.c.id == op_id).values(
            status="rejected", error=e.code, result={"message": e.message}))
        return {"id": op_id, "status": "rejected", "error": e.code, "message": e.message}


def apply_batch(engine: Engine, ops: list[dict], device: dict) -> list[dict]:
    if len(ops) > MAX_BATCH:
        raise DomainError("batch_too_large", f"at most {MAX_BATCH} operations per batch")
    with _write_lock, engine.begin() as conn:
        return [apply_one(conn, op, device) for op in ops]
