"""Customers and cards: search, the card page and what can be done to a card."""

from __future__ import annotations

import json
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from loyalty_common.money import parse_minor

from ... import cards as card_data
from ... import clock, shops
from ... import customers as customer_data
from ...data.db import write_transaction
from ...errors import DomainError
from ...ledger import operations
from .. import audit, privacy
from ..customers import SEARCH_LIMIT, card_page, search
from ..web import Admin, back, check_csrf, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
Csrf = Annotated[str, Form()]


@router.get("/customers")
def customers_page(request: Request, admin: Signed, q: str = ""):
    with request.app.state.engine.connect() as conn:
        found = search(conn, q, admin.shop["country"]) if q.strip() else []
    return render(request, "customers.html", admin, q=q, found=found, limit=SEARCH_LIMIT)


def _card_url(number: str) -> str:
    return f"/admin/cards/{quote(number, safe='')}"


def _show(request: Request, admin: Admin, number: str, *, error: str | None = None, status: int = 200,
          message: str | None = None):
    with request.app.state.engine.connect() as conn:
        data = card_page(conn, number, history_before=request.query_params.get("before"))
        admin.shop = {**admin.shop, "questionnaire": shops.every_question(conn)}  # the shops' own questions too
    return render(request, "card.html", admin, status=status, error=error, error_message=message,
                  op_id=str(uuid.uuid4()), **data)


@router.get("/cards/{number}")
def card(number: str, request: Request, admin: Signed):
    return _show(request, admin, number)


def _minor(text: str, currency: str) -> int:
    """'12.50' or '-3' in the shop's money -> minor units (two digits for UAH, none for VND); a comma works as
    the decimal mark too."""
    try:
        return parse_minor(text, currency)
    except ValueError as e:
        raise DomainError("bad_amount", str(e)) from None


@router.post("/cards/{number}/adjust")
def adjust(number: str, request: Request, admin: Signed, csrf: Csrf = "",
           amount: Annotated[str, Form(max_length=30)] = "", reason: Annotated[str, Form(max_length=500)] = "",
           op_id: Annotated[str, Form(max_length=36)] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)  # money: an operator serves customers but does not move balances
    try:
        minor = _minor(amount, admin.shop["currency"])
        operations.apply_admin(request.app.state.engine, "adjust",
                               {"card_number": number, "amount": minor, "reason": reason},
                               by=admin.name, op_id=op_id or None,
                               then=_audit(admin, "balance_corrected", number,
                                           lambda r: {"amount": minor, "reason": reason.strip(), "operation": r["id"],
                                                      "balance": r["balance"]}))
    except DomainError as e:
        return _show(request, admin, number, error=e.code, message=e.message, status=400)
    return back(_card_url(number), ok="balance_corrected")


@router.post("/cards/{number}/replace")
def replace(number: str, request: Request, admin: Signed, csrf: Csrf = "",
            new_number: Annotated[str, Form(max_length=32)] = "", reason: Annotated[str, Form(max_length=500)] = "",
            op_id: Annotated[str, Form(max_length=36)] = ""):
    check_csrf(admin, csrf)
    try:
        result = operations.apply_admin(
            request.app.state.engine, "replace", {"card_number": number, "new_number": new_number.strip(),
                                                  "reason": reason}, by=admin.name, op_id=op_id or None,
            then=_audit(admin, "card_replaced", number,
                        lambda r: {"new_number": r["new_number"], "moved": r["moved"], "reason": reason.strip(),
                                   "operation": r["id"]}))
    except DomainError as e:
        return _show(request, admin, number, error=e.code, message=e.message, status=400)
    return back(_card_url(result["new_number"]), ok="card_replaced")


@router.post("/cards/{number}/state")
def set_state(number: str, request: Request, admin: Signed, csrf: Csrf = "",
              state: Annotated[str, Form(max_length=16)] = ""):
    check_csrf(admin, csrf)
    if state not in ("blocked", "active"):
        return _show(request, admin, number, error="bad_state", status=400)
    try:
        with write_transaction(request.app.state.engine) as conn:
            card_data.set_state(conn, number, state)
            audit.record(conn, account=admin.name, action="card_blocked" if state == "blocked" else "card_unblocked",
                         target=number, address=admin.address)
    except DomainError as e:
        return _show(request, admin, number, error=e.code, message=e.message, status=400)
    return back(_card_url(number), ok="card_blocked" if state == "blocked" else "card_unblocked")


@router.post("/cards/{number}/answers")
async def edit_answers(number: str, request: Request, admin: Signed):
    form = await request.form()
    check_csrf(admin, form.get("csrf"))
    with request.app.state.engine.connect() as conn:
        fields = shops.every_question(conn)
    answers = {f["key"]: str(form.get("answer_" + f["key"], "")) for f in fields}
    try:
        with write_transaction(request.app.state.engine) as conn:
            row = card_page(conn, number)
            if row["customer"] is None:
                raise DomainError("card_not_active", "this card has no customer yet")
            customer_data.save_answers(conn, row["customer"]["id"], answers, fields, at=clock.now())
            audit.record(conn, account=admin.name, action="answers_edited", target=number,
                         details={"fields": sorted(answers)}, address=admin.address)
    except DomainError as e:
        return _show(request, admin, number, error=e.code, message=e.message, status=400)
    return back(_card_url(number), ok="answers_saved")


@router.get("/cards/{number}/export.json")
def export(number: str, request: Request, admin: Signed):
    with write_transaction(request.app.state.engine) as conn:
        row = card_page(conn, number)
        if row["customer"] is None:
            raise DomainError("card_not_active", "this card has no customer yet")
        data = privacy.export(conn, row["customer"]["id"])
        audit.record(conn, account=admin.name, action="data_exported", target=number, address=admin.address)
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="customer-{row["customer"]["id"]}.json"',
        "Cache-Control": "no-store"})


@router.post("/cards/{number}/erase")
def erase(number: str, request: Request, admin: Signed, csrf: Csrf = "",
          confirm: Annotated[str, Form(max_length=32)] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    if confirm.strip() != number:
        return _show(request, admin, number, error="confirm_number", status=400)
    try:
        with write_transaction(request.app.state.engine) as conn:
            row = card_page(conn, number)
            if row["customer"] is None:
                raise DomainError("card_not_active", "this card has no customer yet")
            result = privacy.erase(conn, row["customer"]["id"])
            audit.record(conn, account=admin.name, action="customer_erased", target=number,
                         details={"customer": row["customer"]["id"], "cards": result["cards"]}, address=admin.address)
    except DomainError as e:
        return _show(request, admin, number, error=e.code, message=e.message, status=400)
    return back(_card_url(number), ok="customer_erased")


def _audit(admin: Admin, action: str, target: str, details):
    """The audit row of a ledger operation, written in the operation's own transaction."""
    def write(conn, result: dict) -> None:
        audit.record(conn, account=admin.name, action=action, target=target, details=details(result),
                     address=admin.address)
    return write

