"""The SMS log: every message with its delivery reports, newest first, filtered."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from loyalty_common.phones import InvalidPhone, normalise

from ...data.db import sms_log
from ..customers import with_events
from ..web import Admin, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
PAGE = 50
STATUSES = ("queued", "sent", "delivered", "failed", "undelivered", "expired")


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


@router.get("/sms")
def sms_page(request: Request, admin: Signed, before: int | None = None):
    params = request.query_params
    zone = ZoneInfo(admin.shop["timezone"] or "UTC")
    query = select(sms_log).order_by(sms_log.c.id.desc()).limit(PAGE + 1)
    since, until = _day(params.get("since")), _day(params.get("until"))
    if since:
        query = query.where(sms_log.c.sent_at >= datetime.combine(since, time(), zone).astimezone(ZoneInfo("UTC")))
    if until:
        query = query.where(sms_log.c.sent_at < datetime.combine(until + timedelta(days=1), time(), zone)
                            .astimezone(ZoneInfo("UTC")))
    for key in ("purpose", "status", "gateway"):
        if params.get(key):
            query = query.where(getattr(sms_log.c, key) == params[key][:32])
    phone_error = False
    if params.get("phone"):
        try:
            query = query.where(sms_log.c.phone == normalise(params["phone"], admin.shop["country"]))
        except InvalidPhone:
            phone_error = True
    if before:
        query = query.where(sms_log.c.id < before)
    with request.app.state.engine.connect() as conn:
        rows = [] if phone_error else [dict(r) for r in conn.execute(query).mappings()]
        rows = with_events(conn, rows[:PAGE + 1])
        gateways = list(conn.execute(select(sms_log.c.gateway).distinct()).scalars())
        purposes = list(conn.execute(select(sms_log.c.purpose).distinct()).scalars())
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    kept = {k: params[k] for k in ("since", "until", "purpose", "status", "gateway", "phone") if params.get(k)}
    return render(request, "sms.html", admin, rows=rows, filters=kept, statuses=STATUSES,
                  gateways=sorted(g for g in gateways if g), phone_error=phone_error,
                  purposes=sorted(p for p in purposes if p),
                  next_url=f"/admin/sms?{urlencode({**kept, 'before': rows[-1]['id']})}" if more else None)
