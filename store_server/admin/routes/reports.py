"""The dashboard and the reports, with their CSV and XLSX exports.

Who sees what: both roles see the dashboard and the shop's operational reports (receipts, money and bonuses per
day, week, month, till, cashier, card type, tier and shop; SMS and their cost) - an operator runs the shop
floor and needs them; an operator limited to some shops (`store-server admin shops`) sees those shops' figures
only, one shop at a time, never the whole chain's. The visit segments list what the chain's customers are worth
to it, a marketing matter for the owner, so they are owner only, like the fraud page. Every export is audited.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from babel.numbers import get_currency_name
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from loyalty_common.money import precision

from ...data.db import shops, write_transaction
from ...reporting import figures, summary
from ...reporting.operations_csv import safe_cell, to_csv
from .. import audit, i18n
from ..charts import Point, bars, columns
from ..web import Admin, Refused, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
KINDS = ("sales", "visits", "sms")
OWNER_KINDS = {"visits"}
SLOW_FIGURES = timedelta(minutes=15)  # what expires next month, the visit segments (whole-ledger reads)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


def _shop_choices(conn, admin: Admin) -> list[dict]:
    """The shops the figures may be shown for: every shop, or those of an operator limited to some."""
    from sqlalchemy import select

    query = select(shops.c.code, shops.c.name).order_by(shops.c.code)
    if admin.shops is not None:
        query = query.where(shops.c.code.in_(admin.shops))
    return [dict(r) for r in conn.execute(query).mappings()]


def _shop(request: Request, choices: list[dict], admin: Admin) -> str | None:
    """The shop asked for; None for the whole chain, which an operator limited to some shops does not see (their
    first shop instead: figures of several shops at once would need each one's own days)."""
    wanted = (request.query_params.get("shop") or "").strip()
    if any(c["code"] == wanted for c in choices):
        return wanted
    return choices[0]["code"] if admin.shops is not None and choices else None


def _in_shops_zone(conn, admin: Admin, shop: str | None) -> None:
    """One shop's figures count its own days: the page's note names that shop's time zone, not the chain's."""
    if shop:
        from ... import shops as shop_list

        admin.shop = {**admin.shop, "timezone": shop_list.setting(conn, shop, "timezone")}


class Words:
    """gettext, ngettext and the shop's formats for one reader."""

    def __init__(self, admin: Admin) -> None:
        catalogue = i18n.translations(admin.lang)
        self._, self.n = catalogue.gettext, catalogue.ngettext
        self.formats = i18n.Formats(admin.lang, admin.shop.get("currency") or "UAH", admin.shop.get("timezone") or
                                    "UTC", admin.shop.get("country") or "")

    def money(self, minor: int) -> str:
        return self.formats.money(minor)

    def count(self, value: int) -> str:
        from babel.numbers import format_decimal

        return format_decimal(value, locale=self.formats.lang)

    def decimal(self, value: float) -> str:
        from babel.numbers import format_decimal

        return format_decimal(round(value, 1), format="#,##0.#", locale=self.formats.lang)

    def percent(self, value: float | None) -> str:
        from babel.numbers import format_percent

        return "—" if value is None else format_percent(value, locale=self.formats.lang)

    def day(self, d: date, form: str = "medium") -> str:
        from babel.dates import format_date

        return format_date(d, form, locale=self.formats.lang)

    def chart_words(self) -> dict[str, str]:
        return {"highest": self._("Highest:"), "last": self._("Last:"), "empty": self._("No data in this period.")}


# The dashboard -------------------------------------------------------------------------------------------------

PERIODS = {"today": 1, "7": 7, "30": 30}


@router.get("/dashboard")
def dashboard(request: Request, admin: Signed):
    engine = request.app.state.engine
    summary.refresh(engine)
    w = Words(admin)
    _, ngettext = w._, w.n
    chosen = request.query_params.get("period") or "7"
    if chosen not in PERIODS:
        chosen = "7"
    with engine.connect() as conn:
        choices = _shop_choices(conn, admin)
        shop = _shop(request, choices, admin)
        _in_shops_zone(conn, admin, shop)
        on = _day(request.query_params.get("on")) or figures.today(conn, shop)
        period = figures.Period(on - timedelta(days=PERIODS[chosen] - 1), on)
        # "Today" is compared with the fortnight before it; the longer periods chart their own days.
        chart_period = period if PERIODS[chosen] > 1 else figures.Period(on - timedelta(days=13), on)
        total = figures.totals(conn, period, shop)
        daily = figures.by_day(conn, chart_period, shop)
        owed = figures.liability(conn)
        joined = figures.new_customers(conn, chart_period)
        new = sum(v[0] for d, v in joined.items() if d >= period.first)
        activated = sum(v[1] for d, v in joined.items() if d >= period.first)
        new_daily = {d: v[0] for d, v in joined.items()}
        counts = figures.visits(conn, period, shop)
        # tills and cashiers that took receipts (the server's nightly expiry is no till)
        top_devices = [r for r in figures.grouped(conn, period, "device", shop) if r["receipts"]][:5]
        top_cashiers = [r for r in figures.grouped(conn, period, "cashier", shop) if r["key"] and r["receipts"]][:5]
        from ... import shop as shop_settings

        expiry_days = shop_settings.get(conn, "bonus_expiry_days")
        now = figures.today(conn)
    # Like the balance owed, what expires next month is today's figure, whatever day the page looks back to:
    # one whole-ledger pass, kept for 15 minutes.
    expiring, _at = summary.remembered(engine, "expiring", {"on": now.isoformat(), "days": expiry_days},
                                       SLOW_FIGURES, lambda c: figures.expiring_next_month(c, now, expiry_days))
    words = w.chart_words()

    def series(measure: str, title: str, as_money: bool):
        fmt = w.money if as_money else w.count
        return columns(title, [Point(w.day(d, "short"), m[measure], fmt(m[measure])) for d, m in daily.items()],
                       words)

    tiles = [
        dict(key="receipts", title=_("Receipts"), value=total["receipts"], text=w.count(total["receipts"]),
             note=_("%(n)s a day on average") % {"n": w.decimal(total["receipts"] / period.days)},
             chart=series("receipts", _("Receipts per day"), False)),
        dict(key="revenue", title=_("Revenue through the programme"), value=total["revenue"],
             text=w.money(total["revenue"]), note=_("paid by card holders, less refunds"),
             chart=series("revenue", _("Revenue per day"), True)),
        dict(key="accrued", title=_("Bonuses accrued"), value=total["accrued"], text=w.money(total["accrued"]),
             chart=series("accrued", _("Bonuses accrued per day"), True)),
        dict(key="spent", title=_("Bonuses spent"), value=total["spent"], text=w.money(total["spent"]),
             chart=series("spent", _("Bonuses spent per day"), True)),
        dict(key="expired", title=_("Bonuses expired"), value=total["expired"], text=w.money(total["expired"]),
             chart=series("expired", _("Bonuses expired per day"), True)),
        dict(key="liability", title=_("Bonuses owed to customers"), value=owed, text=w.money(owed),
             note=(_("bonuses do not expire") if expiring is None else
                   _("%(amount)s expire next month unless spent") % {"amount": w.money(expiring)}),
             extra_key="expiring", extra_value=expiring,
             chart=bars(_("Bonuses owed and expiring next month"),
                        [Point(_("owed now"), owed, w.money(owed))]
                        + ([] if expiring is None else [Point(_("expire next month"), expiring, w.money(expiring))]),
                        words)),
        dict(key="new_customers", title=_("New customers"), value=new, text=w.count(new),
             note=ngettext("%(n)s card activated", "%(n)s cards activated", activated) % {"n": w.count(activated)},
             extra_key="activated", extra_value=activated,
             chart=columns(_("New customers per day"), [Point(w.day(d, "short"), v, w.count(v))
                                                        for d, v in new_daily.items()], words)),
        dict(key="repeat_rate", title=_("Repeat-visit rate"), value=figures.repeat_rate(counts),
             text=w.percent(figures.repeat_rate(counts)),
             note=ngettext("of %(n)s customer who bought, came again", "of %(n)s customers who bought, came again",
                    sum(counts.values())) % {"n": w.count(sum(counts.values()))},
             chart=bars(_("Customers by visits in the period"), [
                 Point(ngettext("%(n)s visit", "%(n)s visits", k) % {"n": label}, v, w.count(v))
                 for k, label, v in ((1, "1", counts.get(1, 0)), (2, "2", counts.get(2, 0)),
                                     (3, "3", counts.get(3, 0)),
                                     (4, "4+", sum(c for k2, c in counts.items() if k2 >= 4)))], words)),
        # an empty ranking says so (it was a blank tile under its heading)
        dict(key="top_devices", title=_("Top tills"), value=len(top_devices), text="",
             note="" if top_devices else _("Nothing in this period."),
             chart=bars(_("Revenue per till"), [Point(r["label"], r["revenue"], w.money(r["revenue"]))
                                                for r in top_devices], words)),
        dict(key="top_cashiers", title=_("Top cashiers"), value=len(top_cashiers), text="",
             note="" if top_cashiers else _("Nothing in this period."),
             chart=bars(_("Revenue per cashier"), [Point(r["label"], r["revenue"], w.money(r["revenue"]))
                                                   for r in top_cashiers], words)),
    ]
    links = {p: "/admin/dashboard?" + urlencode({k: v for k, v in (("period", p), ("on", on.isoformat()),
                                                                   ("shop", shop)) if v}) for p in PERIODS}
    return render(request, "dashboard.html", admin, tiles=tiles, period=period, chosen=chosen, links=links,
                  on=on, shops=choices, shop_code=shop, day=w.day, whole_chain=admin.shops is None,
                  top_devices=top_devices, top_cashiers=top_cashiers)


# Reports -------------------------------------------------------------------------------------------------------

def _params(request: Request, conn, admin: Admin) -> dict:
    q = request.query_params
    kind = q.get("kind") if q.get("kind") in KINDS else "sales"
    if kind in OWNER_KINDS and not admin.is_owner:
        raise Refused("owner_only")
    by = q.get("by") if q.get("by") in figures.GROUPS else "day"
    choices = _shop_choices(conn, admin)
    shop = _shop(request, choices, admin)
    until = _day(q.get("until")) or figures.today(conn, shop)
    if kind == "visits":
        # who is loyal, cooling or lapsed is a figure of today (a year of every customer's receipts, computed at
        # most every 15 minutes); looking back is what the receipt reports are for
        until = figures.today(conn, shop)
    since = _day(q.get("since")) or until - timedelta(days=29)
    if since > until:
        since, until = until, since
    since = max(since, until - timedelta(days=3 * 366))  # three years at most on one page
    return {"kind": kind, "by": by, "shop": shop, "since": since, "until": until, "choices": choices}


def _table(engine, conn, p: dict, w: Words) -> tuple[list[tuple[str, str, str]], list[dict], object]:
    """(columns as (key, heading, type), rows, chart) of one report; type: text, count, money, percent."""
    _, ngettext = w._, w.n
    period = figures.Period(p["since"], p["until"])
    if p["kind"] == "sales":
        rows = figures.grouped(conn, period, p["by"], p["shop"])
        heading = {"day": _("Day"), "week": _("Week from"), "month": _("Month"), "device": _("Till"),
                   "cashier": _("Cashier"), "card_type": _("Card type"), "tier": _("Tier"), "shop": _("Shop")}
        for r in rows:
            if isinstance(r["label"], date):
                r["label"] = (r["label"].strftime("%Y-%m") if p["by"] == "month" else r["label"].isoformat())
            elif not r["label"]:
                r["label"] = {"cashier": _("no cashier"), "card_type": _("no card"), "tier": _("no tier"),
                              "shop": _("back office")}.get(p["by"], "—")
        cols = [("label", heading[p["by"]], "text"), ("receipts", _("Receipts"), "count"),
                ("revenue", _("Revenue"), "money"), ("amount", _("Purchases"), "money"),
                ("discount", _("Discounts"), "money"), ("accrued", _("Bonuses accrued"), "money"),
                ("spent", _("Bonuses spent"), "money"), ("returned", _("Bonuses back on returns"), "money"),
                ("expired", _("Bonuses expired"), "money"), ("refunds", _("Returns and cancels"), "count"),
                ("rejected", _("Refused operations"), "count")]
        chart = columns(_("Revenue"), [Point(str(r["label"]), r["revenue"], w.money(r["revenue"])) for r in rows],
                        w.chart_words()) if p["by"] in ("day", "week", "month") else \
            bars(_("Revenue"), [Point(str(r["label"]), r["revenue"], w.money(r["revenue"])) for r in rows[:15]],
                 w.chart_words())
        return cols, rows, chart
    if p["kind"] == "visits":
        on = p["until"]

        def compute(c):
            s = figures.segments(c, on, p["shop"])
            return {"segments": s.segments, "recency": s.recency, "frequency": s.frequency}

        seg, _at = summary.remembered(engine, "segments", {"on": on.isoformat(), "shop": p["shop"]},
                                      SLOW_FIGURES, compute)
        names = {"champions": _("Champions: 10+ visits, last within 30 days"),
                 "loyal": _("Loyal: 4-9 visits, last within 30 days"),
                 "promising": _("Promising: 2-3 visits, last within 30 days"),
                 "first_visit": _("First visit within 30 days"),
                 "at_risk": _("At risk: 4+ visits, last 31-90 days ago"),
                 "cooling": _("Cooling: 1-3 visits, last 31-90 days ago"),
                 "lapsed": _("Lapsed: last visit 91-365 days ago"),
                 "no_visit": _("No visit in the year")}
        rows = [{"key": k, "label": names[k], "customers": v["customers"], "paid": v["paid"]}
                for k, v in seg["segments"].items()]
        rows += [{"key": f"recency:{k}", "label": _("Last visit %(days)s days ago") % {"days": k}, "customers": v,
                  "paid": None} for k, v in seg["recency"].items()]
        rows += [{"key": f"frequency:{k}",
                  "label": ngettext("%(visits)s visit in the year", "%(visits)s visits in the year",
                                    int(k.split("-")[0].rstrip("+"))) % {"visits": k},
                  "customers": v, "paid": None} for k, v in seg["frequency"].items()]
        cols = [("label", _("Segment"), "text"), ("customers", _("Customers"), "count"),
                ("paid", _("Paid in the year"), "money")]
        chart = bars(_("Customers per segment"), [Point(r["label"].split(":")[0], r["customers"],
                                                        w.count(r["customers"])) for r in rows[:8]],
                     w.chart_words(), width=420)
        return cols, rows, chart
    rows = figures.sms(conn, period, p["shop"])
    cols = [("gateway", _("Gateway"), "text"), ("purpose", _("Purpose"), "text"), ("sent", _("Sent"), "count"),
            ("delivered", _("Delivered"), "count"), ("failed", _("Failed"), "count"),
            ("waiting", _("Waiting for a report"), "count"), ("segments", _("SMS parts billed"), "count")]
    chart = bars(_("SMS parts per gateway and purpose"), [
        Point(f"{r['gateway']} · {r['purpose']}", r["segments"],
              ngettext("%(n)s part", "%(n)s parts", r["segments"]) % {"n": w.count(r["segments"])}) for r in rows[:12]],
        w.chart_words(), width=420)
    return cols, rows, chart


@router.get("/reports")
def reports(request: Request, admin: Signed):
    engine = request.app.state.engine
    summary.refresh(engine)
    w = Words(admin)
    with engine.connect() as conn:
        p = _params(request, conn, admin)
        cols, rows, chart = _table(engine, conn, p, w)
        _in_shops_zone(conn, admin, p["shop"])
    query = {"kind": p["kind"], "by": p["by"], "since": p["since"].isoformat(), "until": p["until"].isoformat(),
             **({"shop": p["shop"]} if p["shop"] else {})}
    shown = {"count": w.count, "money": w.money, "text": str}
    cells = [[("" if r.get(k) is None else shown[t](r[k])) for k, _h, t in cols] for r in rows]
    if p["kind"] == "sales" and not any(r.get(k) for r in rows for k, _h, t in cols if t != "text"):
        cells = []  # a period without a receipt: one notice, not a row of zeros for each of its days
    # the currency by its name in the reader's language ("українська гривня"), not its ISO code
    currency = get_currency_name(admin.shop["currency"], locale=admin.lang) if admin.shop.get("currency") else ""
    return render(request, "reports.html", admin, p=p, cols=cols, cells=cells, chart=chart, kinds=KINDS,
                  whole_chain=admin.shops is None,
                  currency=currency, groups=figures.GROUPS, csv_url="/admin/reports.csv?" + urlencode(query),
                  xlsx_url="/admin/reports.xlsx?" + urlencode(query))


def _export(request: Request, admin: Admin, fmt: str) -> Response:
    engine = request.app.state.engine
    summary.refresh(engine)
    w = Words(admin)
    with engine.connect() as conn:
        p = _params(request, conn, admin)
        cols, rows, _chart = _table(engine, conn, p, w)
    with write_transaction(engine) as conn:
        audit.record(conn, account=admin.name, action="report_exported", address=admin.address,
                     details={"kind": p["kind"], "by": p["by"], "since": p["since"].isoformat(),
                              "until": p["until"].isoformat(), "shop": p["shop"], "format": fmt})
    currency = admin.shop.get("currency") or "UAH"
    digits = precision(currency)
    headings = [f"{h} ({currency})" if t == "money" else h for _k, h, t in cols]
    name = f"{p['kind']}-{p['by'] if p['kind'] == 'sales' else 'all'}-{p['since']}-{p['until']}"

    def major(minor):
        # money as the spreadsheet reads it: a number in the currency's main unit (12.50, not 1250)
        return None if minor is None else round(minor / 10 ** digits, digits)

    values = [[major(r.get(k)) if t == "money" else r.get(k) for k, _h, t in cols] for r in rows]
    headers = {"Cache-Control": "no-store"}
    if fmt == "csv":
        body = to_csv([dict(zip(headings, v, strict=True)) for v in values], headings)
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
    import xlsxwriter

    out = io.BytesIO()
    # strings stay strings: a cell that starts with "=" is text, never a formula (the CSV's rule, Excel's way)
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    sheet = book.add_worksheet(p["kind"][:31])
    bold = book.add_format({"bold": True})
    quoted = book.add_format({"quote_prefix": True})
    money_fmt = book.add_format({"num_format": "#,##0" + ("." + "0" * digits if digits else "")})
    sheet.write_row(0, 0, headings, bold)
    for i, row in enumerate(values, start=1):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, str):
                sheet.write_string(i, j, v, quoted if safe_cell(v) != v else None)
            elif cols[j][2] == "money":
                sheet.write_number(i, j, v, money_fmt)
            else:
                sheet.write_number(i, j, v)
    sheet.set_column(0, 0, 36)
    sheet.set_column(1, len(cols) - 1, 16)
    sheet.freeze_panes(1, 1)
    book.close()
    headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return Response(out.getvalue(), headers=headers,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@router.get("/reports.csv")
def reports_csv(request: Request, admin: Signed):
    return _export(request, admin, "csv")


@router.get("/reports.xlsx")
def reports_xlsx(request: Request, admin: Signed):
    return _export(request, admin, "xlsx")
