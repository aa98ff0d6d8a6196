"""Activation at the till: depending on the till's right, a cashier's registration binds at once or waits.

The right is the shop setting `till_activation` ("direct", "review" or "off"), which an operator may
override per device (`store-server devices till-activation`). Under "review" the `register` operation is
applied (exactly once, like any other) but only records a pending activation: the card stays issued until
an operator approves it (`store-server activations approve`), which binds phone and card through
`binding.bind`, as a direct activation would, checking one phone <-> one active card again at that moment.
Approvals and rejections are written to the operations table, so `store-server audit CARD` shows them.

Entrance kiosks are not affected: there the customer registers themselves.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from loyalty_common.phones import mask

from .. import clock, customers, shop
from ..data import db
from ..data.db import cards, device_rights, devices, operations, till_activations
from ..errors import DomainError, Forbidden, NotFound
from ..ledger import binding
from ..ledger import entries as ledger

log = logging.getLogger(__name__)

MODES = ("direct", "review", "off")
# What the till sent besides phone and card, kept for the approval.
DETAILS = ("consent", "marketing", "answers", "lang")


def check_mode(mode) -> str:
    if mode not in MODES:
        raise DomainError("bad_till_activation", f"till_activation must be one of {', '.join(MODES)}")
    return mode


def mode_for(conn: Connection, device: dict, shop_mode: str | None = None) -> str:
    """The right of `device`: its own override, else the shop's setting; entrance kiosks always direct."""
    if device.get("role") != "cashier":
        return "direct"
    own = conn.execute(select(device_rights.c.till_activation)
                       .where(device_rights.c.device_id == device["id"])).scalar()
    return own or shop_mode or shop.get(conn, "till_activation", shop=device.get("shop"))


def refuse_if_off(conn: Connection, device: dict, shop_mode: str | None = None) -> str:
    mode = mode_for(conn, device, shop_mode)
    if mode == "off":
        raise Forbidden("till_activation_off", "cards cannot be activated at this till; the customer can "
                                              "activate at the entrance kiosk or by SMS")
    return mode


def set_device_mode(conn: Connection, device_id: str, mode: str | None) -> None:
    """Overrides the shop setting for one device; None goes back to the shop setting."""
    if conn.execute(select(devices.c.id).where(devices.c.id == device_id)).first() is None:
        raise NotFound("device_not_found", f"no device {device_id}")
    conn.execute(delete(device_rights).where(device_rights.c.device_id == device_id))
    if mode is not None:
        conn.execute(insert(device_rights).values(device_id=device_id, till_activation=check_mode(mode),
                                                  set_at=clock.now()))


def device_modes(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(select(device_rights.c.device_id, device_rights.c.till_activation)).all())


def _check_answers(answers, questionnaire) -> None:
    # The same checks a direct registration makes, now, so the till hears about a bad answer at once
    # rather than the operator at approval.
    if answers is None:
        return
    if not isinstance(answers, dict):
        raise DomainError("bad_answer", "answers are an object of field key -> value")
    fields = {f["key"]: f for f in questionnaire or []}
    unknown = set(answers) - set(fields)
    if unknown:
        raise DomainError("bad_answer", f"no such question: {', '.join(sorted(unknown))}")
    for key, value in answers.items():
        if value not in (None, ""):
            customers.clean_answer(fields[key], value)


def submit(conn: Connection, *, op: dict, device: dict, card: dict, phone: str, payload: dict,
           questionnaire) -> dict:
    """Records a pending activation for a `register` operation under review; returns the operation's result."""
    card = binding.lock(conn, card["number"], phone)
    binding.check(conn, card, phone)
    _check_answers(payload.get("answers"), questionnaire)
    t = till_activations.c
    waiting = conn.execute(select(t.id, t.phone, t.card_number).where(
        t.state == "pending", (t.card_number == card["number"]) | (t.phone == phone))).all()
    for activation_id, waiting_phone, waiting_card in waiting:
        if (waiting_phone, waiting_card) == (phone, card["number"]):
            # The cashier sent the same customer again (a new operation id): it is the request already waiting.
            return {"card_number": card["number"], "pending_review": True, "activation_id": activation_id}
    if waiting:
        raise DomainError("activation_pending", "this card or this phone already waits for an operator's "
                                                "review; the operator must decide on that one first")
    activation_id = conn.execute(insert(till_activations).values(
        operation_id=op["id"], card_number=card["number"], phone=phone, device_id=device["id"],
        cashier=op.get("cashier"), details={k: payload[k] for k in DETAILS if k in payload}, at=op["at"],
        state="pending")).inserted_primary_key[0]
    log.info("till activation %s of card %s for %s waits for review", activation_id, card["number"], mask(phone))
    return {"card_number": card["number"], "pending_review": True, "activation_id": activation_id}


def listing(conn: Connection, *, everything: bool = False, shops: list[str] | None = None) -> list[dict]:
    """Activations with what an operator needs to judge them (the card's balance: bonuses already on it);
    with `shops`, only those asked for at those shops' tills."""
    query = (select(till_activations, devices.c.name.label("device_name"), devices.c.shop)
             .select_from(till_activations.outerjoin(devices, devices.c.id == till_activations.c.device_id))
             .order_by(till_activations.c.id))
    if shops is not None:
        query = query.where(devices.c.shop.in_(shops))
    if not everything:
        query = query.where(till_activations.c.state == "pending")
    rows = [dict(r) for r in conn.execute(query).mappings()]
    for r in rows:
        r["balance"] = ledger.balance(conn, r["card_number"])
        r["phone_masked"] = mask(r["phone"])
    return rows


def _writer(engine: Engine):
    # The approval reads, checks and writes next to running servers (db.write_transaction).
    return db.write_transaction(engine)


def _pending(conn: Connection, activation_id: int, shops: list[str] | None = None) -> dict:
    row = conn.execute(select(till_activations, devices.c.shop)
                       .select_from(till_activations.outerjoin(devices, devices.c.id == till_activations.c.device_id))
                       .where(till_activations.c.id == activation_id)).mappings().first()
    if row is None or (shops is not None and row["shop"] not in shops):  # another shop's: as if there were none
        raise NotFound("activation_not_found", f"no activation {activation_id}")
    if row["state"] != "pending":
        raise DomainError("activation_decided", f"activation {activation_id} was already {row['state']} "
                                                f"by {row['decided_by']} at {row['decided_at']:%Y-%m-%d %H:%M}")
    return dict(row)


def _decide(conn: Connection, row: dict, state: str, by: str, reason: str | None, now: datetime) -> None:
    done = conn.execute(update(till_activations).where(
        till_activations.c.id == row["id"], till_activations.c.state == "pending"
    ).values(state=state, decided_at=now, decided_by=by, reason=reason)).rowcount
    if done != 1:  # another operator decided in the meantime (PostgreSQL has no database-wide write lock)
        raise DomainError("activation_decided", f"activation {row['id']} was decided meanwhile")
    # The audit trail of the card: who decided, when, on which till's request.
    conn.execute(insert(operations).values(
        id=str(uuid.uuid4()), device_id="server", type=f"activation_{state}", at=now, received_at=now,
        cashier=by, card_number=row["card_number"], status="applied", shop=row.get("shop"),  # the till's
        payload={"activation_id": row["id"], "register_operation": row["operation_id"],
                 **({"reason": reason} if reason else {})},
        result={"card_number": row["card_number"], "state": state}))


def approve(engine: Engine, activation_id: int, *, by: str, shops: list[str] | None = None) -> dict:
    """Binds phone and card as a direct activation would; refused, and left pending, when that no longer holds.
    `shops`: the operator's shops; another shop's activation is not found."""
    now = clock.now()
    with _writer(engine) as conn:
        row = _pending(conn, activation_id, shops)
        card = conn.execute(select(cards).where(cards.c.number == row["card_number"])).mappings().one()
        try:
            if card["state"] == "blocked":
                raise DomainError("card_blocked", "the card was blocked since")
            binding.bind(conn, dict(card), row["phone"], row["details"], at=clock.aware(row["at"]),
                         activated_at=now, questionnaire=shop.get(conn, "questionnaire", shop=row["shop"]))
        except DomainError as e:
            detail = f" (card {e.details['other']})" if e.details.get("other") else ""
            raise DomainError(e.code, f"activation {activation_id} cannot be approved: {e.message}{detail}; "
                                      f"reject it, or fix the card first", **e.details) from e
        _decide(conn, row, "approved", by, None, now)
    log.info("till activation %s approved by %s: card %s active on %s", activation_id, by, row["card_number"],
             mask(row["phone"]))
    return row


def reject(engine: Engine, activation_id: int, *, by: str, reason: str, shops: list[str] | None = None) -> dict:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", "say why the activation is rejected")
    with _writer(engine) as conn:
        row = _pending(conn, activation_id, shops)
        _decide(conn, row, "rejected", by, reason[:500], clock.now())
    log.info("till activation %s rejected by %s: card %s stays not activated (%s)", activation_id, by,
             row["card_number"], reason[:200])
    return row


def send_welcome(engine: Engine, gateway, row: dict) -> bool:
    """The welcome a direct activation gets (sms.outbound.send_welcomes), sent once the card is active."""
    from .sms.base import GatewayError
    from .sms.outbound import NotAllowed, send_template

    code = row.get("shop")  # the till's shop: the welcome speaks in its name and languages
    with engine.connect() as conn:
        name = shop.get(conn, "public_name", shop=code)
        languages = shop.get(conn, "languages", shop=code) or ["en"]
    lang = row["details"].get("lang")
    try:
        send_template(engine, gateway, phone=row["phone"], purpose="welcome", shop_code=code,
                      lang=lang if lang in languages else languages[0], shop_name=name, card=row["card_number"])
    except (GatewayError, NotAllowed) as e:
        log.warning("welcome to %s failed: %s", mask(row["phone"]), e)
        return False
    return True
