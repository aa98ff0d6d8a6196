"""The SMS log: every message sent with its delivery reports, and the texts customers sent (activation, STOP,
NO), newest first, filtered; by shop on a chain, and only their shops' for an operator limited to some."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Table, select

from loyalty_common.phones import InvalidPhone, normalise

from ...data.db import inbound_sms, sms_log
from ..customers import with_events
from ..journal import shop_choices
from ..web import Admin, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
PAGE = 50
STATUSES = ("queued", "sent", "delivered", "failed", "undelivered", "expired")
FILTERS = ("since", "until", "purpose", "status", "gateway", "phone", "shop")


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


def _where(query, table: Table, at, params, admin: Admin, phone: str | None):
    """The filters both lists share: days in the chain's time zone, gateway, phone, shop and the account's shops."""
    zone = ZoneInfo(admin.shop["timezone"] or "UTC")
    since, until = _day(params.get("since")), _day(params.get("until"))
    if since:
        query = query.where(at >= datetime.combine(since, time(), zone).astimezone(ZoneInfo("UTC")))
    if until:
        query = query.where(at < datetime.combine(until + timedelta(days=1), time(), zone).astimezone(ZoneInfo("UTC")))
    if params.get("gateway"):
        query = query.where(table.c.gateway == params["gateway"][:32])
    if phone:
        query = query.where(table.c.phone == phone)
    if params.get("shop"):
        query = query.where(table.c.shop == params["shop"][:32])
    if admin.shops is not None:
        # An operator limited to some shops sees their customers' messages, not the chain's own.
        query = query.where(table.c.shop.in_(admin.shops))
    return query


@router.get("/sms")
def sms_page(request: Request, admin: Signed, before: int | None = None, received_before: int | None = None):
    params = request.query_params
    phone, phone_error = None, False
    if params.get("phone"):
        try:
            phone = normalise(params["phone"], admin.shop["country"])
        except InvalidPhone:
            phone_error = True
    sent_query = _where(select(sms_log).order_by(sms_log.c.id.desc()).limit(PAGE + 1), sms_log, sms_log.c.sent_at,
                        params, admin, phone)
    for key in ("purpose", "status"):
        if params.get(key):
            sent_query = sent_query.where(getattr(sms_log.c, key) == params[key][:32])
    if before:
        sent_query = sent_query.where(sms_log.c.id < before)
    received_query = _where(select(inbound_sms).order_by(inbound_sms.c.id.desc()).limit(PAGE + 1), inbound_sms,
                            inbound_sms.c.received_at, params, admin, phone)
    if received_before:
        received_query = received_query.where(inbound_sms.c.id < received_before)
    with request.app.state.engine.connect() as conn:
        rows = [] if phone_error else [dict(r) for r in conn.execute(sent_query).mappings()]
        rows = with_events(conn, rows[:PAGE + 1])
        received = [] if phone_error else [dict(r) for r in conn.execute(received_query).mappings()]
        gateways = set(conn.execute(select(sms_log.c.gateway).distinct()).scalars())
        gateways |= set(conn.execute(select(inbound_sms.c.gateway).distinct()).scalars())
        purposes = list(conn.execute(select(sms_log.c.purpose).distinct()).scalars())
        shops = shop_choices(conn, tuple(admin.shops) if admin.shops is not None else None)
    kept = {k: params[k] for k in FILTERS if params.get(k)}
    more, more_received = len(rows) > PAGE, len(received) > PAGE
    rows, received = rows[:PAGE], received[:PAGE]
    return render(request, "sms.html", admin, rows=rows, received=received, filters=kept, statuses=STATUSES,
                  gateways=sorted(g for g in gateways if g), phone_error=phone_error,
                  purposes=sorted(p for p in purposes if p), shops=shops,
                  next_url=f"/admin/sms?{urlencode({**kept, 'before': rows[-1]['id']})}" if more else None,
                  received_next_url=(f"/admin/sms?{urlencode({**kept, 'received_before': received[-1]['id']})}"
                                     f"#received") if more_received else None)
