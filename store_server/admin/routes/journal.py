"""The operations journal page and its CSV export."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from ...data.db import write_transaction
from .. import audit
from ..journal import STATUSES, TYPES, Filters, csv_rows, device_choices, page, shop_choices
from ..web import Admin, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]


def _filters(request: Request, admin: Admin) -> Filters:
    filters = Filters.from_query(request.query_params)
    filters.scope = tuple(admin.shops) if admin.shops is not None else None
    return filters


def _zone(conn, admin: Admin, filters: Filters) -> str:
    """Days and times in the chosen shop's time zone; the chain's when the journal shows several shops."""
    from ... import shops

    if filters.shop and (filters.scope is None or filters.shop in filters.scope):
        try:
            return shops.setting(conn, filters.shop, "timezone")
        except Exception:  # noqa: BLE001 - an unknown code filters to nothing; the chain's zone will do
            pass
    return admin.shop["timezone"]


@router.get("/journal")
def journal(request: Request, admin: Signed, after: str | None = None):
    filters = _filters(request, admin)
    with request.app.state.engine.connect() as conn:
        zone = _zone(conn, admin, filters)
        result = page(conn, filters, zone, after)
        choices = device_choices(conn, filters.scope)
        shop_list = shop_choices(conn, filters.scope)
    admin.shop = {**admin.shop, "timezone": zone}  # when() and the page's note show times in it
    query = filters.as_query()
    next_url = f"/admin/journal?{urlencode({**query, 'after': result['next']})}" if result["next"] else None
    return render(request, "journal.html", admin, filters=filters, rows=result["rows"], types=TYPES,
                  statuses=STATUSES, devices=choices, shops=shop_list, first=not after,
                  next_url=next_url,
                  csv_url=f"/admin/journal.csv?{urlencode(query)}", reset_url="/admin/journal",
                  first_url=f"/admin/journal?{urlencode(query)}")


@router.get("/journal.csv")
def journal_csv(request: Request, admin: Signed):
    filters = _filters(request, admin)
    with write_transaction(request.app.state.engine) as conn:
        audit.record(conn, account=admin.name, action="journal_exported", details=filters.as_query(),
                     address=admin.address)
        zone = _zone(conn, admin, filters)
    engine = request.app.state.engine

    def stream():
        with engine.connect() as conn:
            yield from csv_rows(conn, filters, zone)

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="journal.csv"', "Cache-Control": "no-store"})
