"""The operations journal page and its CSV export."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from ...db import write_transaction
from .. import audit
from ..journal import STATUSES, TYPES, Filters, csv_rows, device_choices, page
from ..web import Admin, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]


@router.get("/journal")
def journal(request: Request, admin: Signed, after: str | None = None):
    filters = Filters.from_query(request.query_params)
    with request.app.state.engine.connect() as conn:
        result = page(conn, filters, admin.shop["timezone"], after)
        choices = device_choices(conn)
    query = filters.as_query()
    next_url = f"/admin/journal?{urlencode({**query, 'after': result['next']})}" if result["next"] else None
    return render(request, "journal.html", admin, filters=filters, rows=result["rows"], types=TYPES,
                  statuses=STATUSES, devices=choices, first=not after,
                  next_url=next_url,
                  csv_url=f"/admin/journal.csv?{urlencode(query)}", reset_url="/admin/journal",
                  first_url=f"/admin/journal?{urlencode(query)}")


@router.get("/journal.csv")
def journal_csv(request: Request, admin: Signed):
    filters = Filters.from_query(request.query_params)
    with write_transaction(request.app.state.engine) as conn:
        audit.record(conn, account=admin.name, action="journal_exported", details=filters.as_query(),
                     address=admin.address)
    engine, zone = request.app.state.engine, admin.shop["timezone"]

    def stream():
        with engine.connect() as conn:
            yield from csv_rows(conn, filters, zone)

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="journal.csv"', "Cache-Control": "no-store"})
