"""Accounts and the audit trail (owner only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Form, Request

from ... import shops
from ...data.db import write_transaction
from ...errors import DomainError
from .. import accounts, audit
from ..web import Admin, back, check_csrf, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]


def _page(request: Request, admin: Admin, **context):
    owner_only(admin)
    with request.app.state.engine.connect() as conn:
        rows = accounts.listing(conn)
        shop_codes = shops.codes(conn)
    return render(request, "accounts.html", admin, rows=rows, roles=accounts.ROLES, shop_codes=shop_codes,
                  **context)


@router.get("/accounts")
def account_list(request: Request, admin: Signed):
    return _page(request, admin)


@router.post("/accounts")
def add_account(request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
                name: Annotated[str, Form(max_length=64)] = "", role: Annotated[str, Form(max_length=16)] = "",
                password: Annotated[str, Form(max_length=200)] = "",
                again: Annotated[str, Form(max_length=200)] = "",
                shop: Annotated[list[str] | None, Form()] = None):
    check_csrf(admin, csrf)
    owner_only(admin)
    if password != again:
        return _page(request, admin, error="passwords_differ", name=name)
    try:
        with write_transaction(request.app.state.engine) as conn:
            accounts.create(conn, name, role, password)
            if shop and role != "owner":
                accounts.set_shops(conn, name.strip(), shop)
            audit.record(conn, account=admin.name, action="account_created", target=name.strip(),
                         details={"role": role, **({"shops": shop} if shop and role != "owner" else {})},
                         address=admin.address)
    except DomainError as e:
        return _page(request, admin, error=e.code, error_message=e.message, name=name)
    return back("/admin/accounts", ok="account_created")


@router.post("/accounts/{name}/shops")
def set_shops(name: str, request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
              shop: Annotated[list[str] | None, Form()] = None):
    """An operator limited to the shops ticked (none ticked: every shop)."""
    check_csrf(admin, csrf)
    owner_only(admin)
    try:
        with write_transaction(request.app.state.engine) as conn:
            accounts.set_shops(conn, name, shop or None)
            audit.record(conn, account=admin.name, action="account_shops_set", target=name,
                         details={"shops": shop or None}, address=admin.address)
    except DomainError as e:
        return _page(request, admin, error=e.code, error_message=e.message)
    return back("/admin/accounts", ok="account_shops_saved")


@router.post("/accounts/{name}/unlock")
def unlock(name: str, request: Request, admin: Signed, csrf: Annotated[str, Form()] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    with write_transaction(request.app.state.engine) as conn:
        accounts.unlock(conn, name)
        audit.record(conn, account=admin.name, action="account_unlocked", target=name, address=admin.address)
    return back("/admin/accounts", ok="account_unlocked")


@router.get("/audit")
def audit_page(request: Request, admin: Signed, before: int | None = None, account: str | None = None):
    owner_only(admin)
    with request.app.state.engine.connect() as conn:
        rows = audit.page(conn, before=before, account=account or None, limit=51)
    more = len(rows) > 50
    rows = rows[:50]
    # Rules and tiers keep percents in hundredths of a percent (500 = 5 %): shown as the rules page shows them.
    percent = lambda points: format_percent(Decimal(points) / 10_000, locale=admin.lang,  # noqa: E731
                                            decimal_quantization=False)
    return render(request, "audit.html", admin, rows=rows, account=account or "", percent=percent,
                  next_url=f"/admin/audit?before={rows[-1]['id']}" + (f"&account={account}" if account else "")
                  if more else None)
