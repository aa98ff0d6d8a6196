"""Card types and ranges: how many cards of each type and range are issued, active and blocked; new types and
ranges (EAN-13 numbers and activation codes when chosen) and the card printer's CSV (owner only)."""

from __future__ import annotations

import io
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from ... import cards, shops
from ...data.db import write_transaction
from ...errors import DomainError
from ...reporting.operations_csv import write_csv
from .. import audit
from ..web import Admin, back, check_csrf, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
Csrf = Annotated[str, Form()]
PRINTER_COLUMNS = ["card_number", "barcode", "barcode_type", "activation_code"]


def _page(request: Request, admin: Admin, status: int = 200, **context):
    with request.app.state.engine.connect() as conn:
        types = cards.types_with_counts(conn)
        ranges = cards.ranges_with_counts(conn)
        shop_codes = shops.codes(conn)
    return render(request, "card_types.html", admin, status=status, types=types, ranges=ranges,
                  states=cards.STATES, shop_codes=shop_codes, **context)


@router.get("/card-types")
def card_types_page(request: Request, admin: Signed):
    return _page(request, admin)


@router.post("/card-types")
def create_card_type(request: Request, admin: Signed, csrf: Csrf = "",
                     name: Annotated[str, Form(max_length=32)] = "", kind: Annotated[str, Form(max_length=16)] = "",
                     discount: Annotated[int, Form(ge=0, le=100)] = 0):
    check_csrf(admin, csrf)
    owner_only(admin)
    try:
        with write_transaction(request.app.state.engine) as conn:
            cards.create_type(conn, name.strip(), kind, discount if kind == "discount" else 0)
            audit.record(conn, account=admin.name, action="card_type_created", target=name.strip(),
                         details={"kind": kind, "discount_percent": discount}, address=admin.address)
    except DomainError as e:
        return _page(request, admin, status=400, error=e.code, error_message=e.message,
                     type_form={"name": name, "kind": kind, "discount": discount})
    return back("/admin/card-types", ok="card_type_created")


@router.post("/card-ranges")
def issue_range(request: Request, admin: Signed, csrf: Csrf = "",
                card_type: Annotated[str, Form(max_length=32)] = "standard",
                first: Annotated[int, Form(ge=0, le=10**12)] = 0, last: Annotated[int, Form(ge=0, le=10**12)] = 0,
                ean13: Annotated[str, Form(max_length=3)] = "", ean13_prefix: Annotated[str, Form(max_length=12)] = "",
                codes: Annotated[str, Form(max_length=3)] = "", shop: Annotated[str, Form(max_length=32)] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    prefix = ean13_prefix.strip() if ean13 == "on" else None
    form = {"card_type": card_type, "first": first, "last": last, "ean13": ean13, "ean13_prefix": ean13_prefix,
            "codes": codes, "shop": shop}
    try:
        if prefix is not None and not prefix.isdigit():
            raise DomainError("bad_ean13", "an EAN-13 prefix is digits only")
        with write_transaction(request.app.state.engine) as conn:
            if shop and shop not in shops.codes(conn):
                raise DomainError("unknown_shop", f"no shop {shop}")
            issued = cards.issue_range(conn, first, last, card_type=card_type, ean13_prefix=prefix,
                                       activation_codes=codes == "on", by=admin.name, shop=shop or None)
            if not issued:
                raise DomainError("range_empty", "every number of this range is a card already")
            audit.record(conn, account=admin.name, action="range_issued", target=f"{first}-{last}",
                         details={"card_type": card_type, "issued": issued, "ean13_prefix": prefix,
                                  "activation_codes": codes == "on", "shop": shop or None},
                         address=admin.address)
    except DomainError as e:
        return _page(request, admin, status=400, error=e.code, error_message=e.message, range_form=form)
    return back("/admin/card-types", ok="range_issued")


@router.post("/card-ranges/{range_id}/export")
def export_range(range_id: int, request: Request, admin: Signed, csrf: Csrf = ""):
    """The printer's CSV. A range with activation codes gets new ones here (they are stored hashed, so they can
    only be printed when made): a POST, audited, and the earlier file's codes stop working."""
    check_csrf(admin, csrf)
    owner_only(admin)
    with write_transaction(request.app.state.engine) as conn:
        found = cards.get_range(conn, range_id)
        rows = cards.printer_rows(conn, range_id)
        audit.record(conn, account=admin.name, action="range_exported", target=str(range_id),
                     details={"rows": len(rows), "new_codes": bool(found["activation_codes"])},
                     address=admin.address)
    out = io.StringIO()
    write_csv(out, PRINTER_COLUMNS, rows)
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"cards-{found['card_type']}-{found['first']}-{found['last']}")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"})
