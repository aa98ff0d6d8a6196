"""The fraud page (owner only): the signals store_server/fraud.py and the clock check compute, each row leading
to the operations behind it (the journal filtered by card, cashier or till; the SMS log for a phone)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from ... import clock, fraud
from ...ledger import device_clock
from ..web import Admin, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
WINDOWS = (1, 7, 30, 90)


def journal(**filters) -> str:
    return "/admin/journal?" + urlencode({k: v for k, v in filters.items() if v})


@router.get("/fraud")
def fraud_page(request: Request, admin: Signed, days: int = 7):
    owner_only(admin)  # it names cashiers as suspects: not for their colleagues' eyes
    days = days if days in WINDOWS else 7
    with request.app.state.engine.connect() as conn:
        rep = fraud.report(conn, days=days)
        clocks = device_clock.report(conn, days=days)
    from ..i18n import Formats

    zone = Formats(admin.lang, "UAH", admin.shop.get("timezone") or "UTC").zone
    since = (clock.now() - timedelta(days=days)).astimezone(zone).date().isoformat()

    def day_of(at) -> str:
        return clock.aware(at).astimezone(zone).date().isoformat()

    signals = (len(rep.no_replies) + len(rep.own_phone) + len(rep.many_devices) + len(rep.identified_many)
               + len(rep.staff_codes) + len(rep.unverified_numbers) + len(rep.failed_checks) + len(clocks))
    return render(request, "fraud.html", admin, rep=rep, clocks=clocks, days=days, windows=WINDOWS, since=since,
                  signals=signals, journal=journal, day_of=day_of,
                  sms_link=lambda phone: "/admin/sms?" + urlencode({"phone": phone}))
