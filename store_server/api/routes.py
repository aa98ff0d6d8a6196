"""HTTP routes of the device <-> server contract (docs/api.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from starlette.concurrency import run_in_threadpool

from loyalty_common.phones import InvalidPhone, normalise

from .. import card_formats, cards, cashiers, clock, devices, digital_card, shop
from ..data import db
from ..errors import DomainError, Forbidden, TooLarge, TooMany
from ..ledger import device_clock, operations, receipts
from ..messaging import codes as otp
from ..messaging import till_activation
from ..messaging.sms import webhooks
from ..messaging.sms.outbound import after_batch
from ..security import hash_secret
from . import observe
from .limits import payload_problem

router = APIRouter()
router.include_router(webhooks.router)


def engine(request: Request):
    return request.app.state.engine


async def device(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict:
    # Answered from this process's key cache on the event loop (no database, no thread hop) for every call
    # after a device's first in `device_auth_cache_seconds`; a miss reads the devices table in a worker
    # thread, like every other database access of the device API.
    key = authorization[7:] if authorization and authorization.lower().startswith("bearer ") else None
    state = request.app.state
    if key:
        found = state.device_keys.get(hash_secret(key))
        if found is not None:
            return found
    return await off_the_loop(request, devices.authenticate_cached, state.device_keys, key)


async def off_the_loop(request: Request, read, *args):
    """Runs a read in a worker thread on PostgreSQL, whose every statement waits for a network round trip;
    on SQLite, in place. A WAL reader never waits for a writer or a lock, so an indexed read there is some
    60 us of CPU, less than the two thread switches of the hop (on a loaded till PC several times less:
    benchmarks/server_lookup.py)."""
    engine = request.app.state.engine
    if engine.dialect.name == "sqlite":
        return read(engine, *args)
    return await run_in_threadpool(read, engine, *args)


Device = Annotated[dict, Depends(device)]

# Numbers and flags are taken as JSON writes them: `false` is not 0 and "12" is not 12 (pydantic's lax mode
# would coerce both, and the OpenAPI contract says integer). Money fits the ledger's 64-bit columns.
MAX_MONEY = operations.MAX_AMOUNT


def _iso_only(value: object) -> object:
    if not isinstance(value, str | datetime):  # lax datetime would read 0 or 1.7e9 as Unix time
        raise ValueError("must be an ISO 8601 date and time")
    return value


_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=2)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)


def _within_range(value: datetime) -> datetime:
    # A time at the edge of the calendar (0001-01-01T00:01Z, or a zone taking it past year 1 or 9999) stands
    # for the nearest time the server can compute with, so the device-clock check refuses it as time_too_old
    # or time_in_future (an operation alone, a preview with a 400), as `"at": 0` is, instead of a 422 for a
    # schema-valid request or an overflow later in a zone conversion (both found by schemathesis).
    if 1 < value.year < 9999:
        return value  # a day and a zone's offset away from either edge: nothing below can overflow
    try:
        value.astimezone(UTC) if value.tzinfo else value
        value - timedelta(days=1), value + timedelta(days=1)
        return value
    except OverflowError:
        return _EARLIEST if value.year < 5000 else _LATEST


OperationTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_within_range)]


def _whole_only(value: object) -> object:
    # JSON Schema's integer includes 12.0, but not true or "12".
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _unix_seconds(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


# An operation's time may also come as whole Unix seconds, said so in the contract: a Pi whose clock fell back
# to 1970 may send `"at": 0`, and that operation is then refused on its own as time_too_old and flagged for the
# owner (store_server/ledger/device_clock.py) instead of failing its whole batch with a 422. Up to 9999-12-31.
UnixTime = Annotated[int, Field(ge=0, le=253_402_300_799), BeforeValidator(_whole_only),
                     AfterValidator(_unix_seconds)]


# The bounds inside the Annotated, before the validator: pydantic then writes them into the OpenAPI schema
# as minimum/maximum (on an optional field written as Field(ge=...) it would write "ge", which no client reads).
Money = Annotated[int, Field(ge=-MAX_MONEY, le=MAX_MONEY), BeforeValidator(_whole_only)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_whole_only)]  # PostgreSQL's integer
# PostgreSQL cannot store a NUL character in a text column; no device sends one. Said in the schema, so a
# NUL is refused as a bad body (422) instead of failing deep in an INSERT. (Paths and queries: api/limits.py.)
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]


class EnrolBody(BaseModel):
    enrolment_token: Text = Field(min_length=1, max_length=200)
    name: Text = Field(min_length=1, max_length=100)
    role: Literal["entrance", "cashier"]


class OtpBody(BaseModel):
    # For redeem / discount / return the server sends the code to the card's own phone; phone may be left out.
    phone: Text | None = Field(default=None, min_length=3, max_length=32)
    purpose: Literal["register", "identify", "redeem", "discount", "return", "activate", "sale"]
    card_number: Text | None = Field(default=None, max_length=32)
    amount: Annotated[int, Field(ge=0, le=MAX_MONEY), BeforeValidator(_whole_only)] | None = None
    lang: Text | None = Field(default=None, max_length=8)


class CheckBody(BaseModel):
    code: Text = Field(min_length=1, max_length=12)


class Operation(BaseModel):
    id: Text = Field(min_length=8, max_length=36)
    type: Text = Field(min_length=1, max_length=32)
    at: OperationTime | UnixTime
    device_id: Text | None = None
    cashier: Text | None = Field(default=None, max_length=100)
    payload: dict = Field(default_factory=dict)
    verification_token: Text | None = Field(default=None, max_length=200)


class PreviewBody(BaseModel):
    card_number: Text = Field(min_length=1, max_length=64)
    amount: Money
    bonus_payment: Money | None = None
    allow_partial: bool = Field(default=False, strict=True)
    at: OperationTime | None = None  # the receipt's time on the till (rules by time of day); default: now


class LoginBody(BaseModel):
    pin: Text | None = Field(default=None, max_length=32)
    badge: Text | None = Field(default=None, max_length=200)


class Batch(BaseModel):
    operations: list[Operation] = Field(max_length=operations.MAX_BATCH)
    # How many operations the device still holds, this batch included (a gauge in /metrics).
    outbox_backlog: Count | None = None


@router.post("/devices/enrol")
def enrol(body: EnrolBody, request: Request) -> dict:
    return db.run_write(engine(request), lambda conn: devices.enrol(
        conn, token=body.enrolment_token, name=body.name, role=body.role))


class HeartbeatBody(BaseModel):
    app_version: Text | None = Field(default=None, max_length=32)
    outbox_pending: Count | None = None
    outbox_failed: Count | None = None
    last_sync_error: Text | None = Field(default=None, max_length=300)
    last_sync_error_at: Annotated[float, Field(ge=0, le=4e9, strict=True)] | None = None  # the device's Unix time


def _device_config(conn, request: Request, dev: dict) -> dict:
    """The device's shop's settings and code lifetimes, and the right of this very device to activate at the till."""
    return {**shop.device_config(conn, dev.get("shop"), request.app.state.config.otp),
            "till_activation": till_activation.mode_for(conn, dev)}


@router.post("/devices/heartbeat")
def heartbeat(body: HeartbeatBody, request: Request, dev: Device) -> dict:
    """A device says how it is (the back office's device list shows it) and gets the shop's config back."""
    def beat(conn) -> dict:
        devices.record_heartbeat(conn, dev["id"], body.model_dump())
        return _device_config(conn, request, dev)

    return db.run_write(engine(request), beat)


@router.get("/config")
def config(request: Request, dev: Device) -> dict:
    with engine(request).connect() as conn:
        # The right of this very device (its override or the shop's); the till hides Activate when "off".
        return _device_config(conn, request, dev)


@router.get("/cards/{number}")
async def get_card(number: str, request: Request, dev: Device) -> JSONResponse:
    # One device walking the card numbers would read every balance and masked phone: look-ups per device
    # are capped ([limits] card_lookups_per_minute).
    lookups = request.app.state.card_lookups
    wait = lookups.wait(dev["id"])
    if wait is not None:
        raise TooMany("too_many_lookups", "too many card look-ups from this device; try again shortly",
                      retry_after=max(1, round(wait)))
    lookups.add(dev["id"])
    # The hottest call: two indexed reads on one connection, and the dict handed straight to JSONResponse,
    # which skips FastAPI's generic encoder. A phone's card QR (lk://card/<token>) and a card's extra
    # numbers arrive here too.
    # A number no card has is read by the device's shop's card rules: "not one of ours" or the printed form
    # of a card (card_formats.lookup).
    card = await off_the_loop(request, card_formats.lookup, number, dev.get("shop"))
    if dev.get("role") != "cashier":
        # The entrance kiosk is unattended: whoever holds a card (or types a number) sees its balance, not
        # what was bought and when.
        card["history"] = []
    return JSONResponse(card)


@router.get("/customers")
def find_customer(request: Request, dev: Device, phone: Annotated[str, Query(min_length=3, max_length=32)],
                  x_verification_token: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
    # Typing a phone number shows that customer's balance: only at the till, where a cashier stands by. The
    # entrance kiosk identifies by card number only, or anyone could read a stranger's card from a phone.
    if dev.get("role") != "cashier":
        raise Forbidden("role_not_allowed", "only a cashier device may look customers up by phone")
    def find(conn) -> dict:
        try:
            e164 = normalise(phone, shop.get(conn, "country", shop=dev.get("shop")))
        except InvalidPhone as e:
            raise DomainError("invalid_phone", str(e)) from e
        if shop.get(conn, "identify_code_required", shop=dev.get("shop")):
            # A cashier typing their own phone to collect a stranger's accrual (seed 000): the customer reads
            # out the code sent to the phone they named. The token works once, for this phone only; a refused
            # look-up rolls back and leaves it unused.
            if not x_verification_token:
                raise Forbidden("verification_required", "the customer's code is needed to find them by phone")
            otp.consume_token(conn, token=x_verification_token, purpose="identify",
                              operation_id=str(uuid.uuid4()), phone=e164)
        return cards.find_by_phone(conn, e164)  # the card view masks the phone

    # A write transaction only when a token is spent (reads, then marks it used); a plain look-up only reads.
    if x_verification_token:
        return JSONResponse(db.run_write(engine(request), find))
    with engine(request).connect() as conn:
        return JSONResponse(find(conn))


@router.post("/otp")
def request_code(body: OtpBody, request: Request, dev: Device) -> dict:
    config = request.app.state.config
    if body.purpose == "register" and dev.get("role") == "cashier":
        with engine(request).connect() as conn:  # no SMS for an activation the till may not make
            till_activation.refuse_if_off(conn, dev)
    elif body.purpose == "register" and body.card_number:
        with engine(request).connect() as conn:  # nor for a card the entrance may not activate at all
            number = cards.resolve(conn, body.card_number)
            card = cards.get_card(conn, number) if number else None
            if card is not None and card["activation"] == "till":
                raise DomainError("card_needs_till", "this card already holds bonuses or was used: activate it "
                                                     "at the till, with the card in hand")
    return otp.request_code(engine(request), request.app.state.gateway, secret_key=config.secret_key,
                            server_otp=config.otp, device_id=dev["id"], phone=body.phone, purpose=body.purpose,
                            card_number=body.card_number, amount=body.amount, lang=body.lang,
                            shop_code=dev.get("shop"),
                            # joining at the till: the customer tells the cashier, and that is their consent
                            template="code_register_till" if body.purpose == "register"
                            and dev.get("role") == "cashier" else None)


@router.post("/otp/{challenge_id}/check")
def check_code(challenge_id: str, body: CheckBody, request: Request, device: Device) -> dict:
    config = request.app.state.config

    def judge(conn) -> tuple[DomainError | None, dict, str | None, dict | None]:
        # A wrong code must still count as a try, so the attempt is committed before the error is raised.
        try:
            result = otp.check(conn, secret_key=config.secret_key, challenge_id=challenge_id, code=body.code,
                               # the token lasts the asking device's shop's token_ttl, as /config tells it
                               policy=otp.policy_for(conn, config.otp, device.get("shop")))
        except DomainError as e:
            return e, {}, None, None
        # The phone is proven now: its owner may see the card it already has ("Find my card", or "Join"
        # from a phone with a card, which then shows that card instead of issuing a second one).
        own = cards.own_card(conn, result["phone"]) if result["purpose"] in ("identify", "register") else None
        if own is not None:
            own["card_link"] = digital_card.card_link(conn, own["number"])
        if result["purpose"] == "register" and not result["card_number"] and own is None:
            result["card_number"] = shop.reserve_digital_card(conn, result["phone"])
            otp.bind_card(conn, challenge_id, result["card_number"])
        # The card's page, for the QR on the kiosk's done screen (None without the shop's public_url).
        link = (digital_card.card_link(conn, result["card_number"])
                if result["purpose"] == "register" and result["card_number"] else None)
        return None, result, link, own

    error, result, link, own = db.run_write(engine(request), judge)
    if error is not None:
        raise error
    return {"verification_token": result["verification_token"], "card_number": result["card_number"],
            "card_link": link, "own_card": own}


@router.post("/operations:batch")
def operations_batch(body: Batch, request: Request, dev: Device) -> dict:
    # The validated fields as they stand (model_dump would copy each payload again: a tenth of the request).
    ops = [vars(op).copy() for op in body.operations]
    for op in ops:
        # Refused as a whole batch (the kiosk splits it until the culprit is alone and keeps that one as
        # failed): nothing of an oversized payload reaches the audit table.
        problem = payload_problem(op["payload"], request.app.state.limits)
        if problem is not None:
            raise TooLarge(problem[0], problem[1], operation_id=op["id"])
    # The device's clock against ours; each operation's time corrected or refused (store_server/ledger/device_clock.py).
    now = clock.now()
    offset = device_clock.offset_from(request.headers.get(device_clock.HEADER), now)
    for op in ops:
        operations.judge_time(op, offset, now)
    results = operations.apply_batch(engine(request), ops, dev, clock_offset=offset)
    observe.batch_seen(dev, ops, results, body.outbox_backlog)
    after_batch(engine(request), request.app.state.gateway, ops, results, dev.get("shop"))
    return {"results": results}


def _cashier_device(dev: dict, what: str) -> None:
    if dev.get("role") != "cashier":
        raise Forbidden("role_not_allowed", f"only a cashier device may {what}")


@router.post("/receipts:preview")
def preview_receipt(body: PreviewBody, request: Request, dev: Device) -> dict:
    """Exactly what the sale would book now (store_server/ledger/receipts.py): the till shows it before Confirm."""
    _cashier_device(dev, "preview receipts")
    payload = body.model_dump(exclude={"at"}, exclude_none=True)
    if body.at is not None:  # a time the sale itself would be refused at gets the same reason
        refusal = device_clock.decide(body.at, None, clock.now())[2]
        if refusal:
            raise DomainError(refusal, device_clock.REFUSALS[refusal].replace("operation", "receipt"))
    with engine(request).connect() as conn:
        return operations.preview_sale(conn, dev, payload, body.at)


@router.get("/cards/{number}/sales")
def card_sales(number: str, request: Request, dev: Device,
               limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    """The card's sales that can still be returned or cancelled, from whichever till sold them."""
    _cashier_device(dev, "list a card's sales")
    with engine(request).connect() as conn:
        if digital_card.is_token(number) and cards.resolve(conn, number) is None:
            number = digital_card.resolve(conn, number, clock.now())
        days = shop.get(conn, "return_days", shop=dev.get("shop"))
        return {"sales": receipts.card_sales(conn, number, now=clock.now(), return_days=days, limit=limit)}


@router.get("/sales/{receipt:path}")
def find_sale(receipt: str, request: Request, dev: Device) -> dict:
    """A sale by operation id, printed receipt number or receipt QR (lk://receipt/<id>)."""
    _cashier_device(dev, "look sales up")
    with engine(request).connect() as conn:
        return receipts.find_sale(conn, receipt)


@router.post("/cashiers/login")
def cashier_login(body: LoginBody, request: Request, dev: Device) -> dict:
    # A wrong PIN must count even though the answer is an error: commit first, raise after.
    def sign_in(conn) -> tuple[dict | None, DomainError | None]:
        try:
            return cashiers.login(conn, dev, pin=body.pin, badge=body.badge,
                                  secret_key=request.app.state.config.secret_key), None
        except DomainError as e:
            return None, e

    answer, error = db.run_write(engine(request), sign_in)
    if error is not None:
        raise error
    return answer
