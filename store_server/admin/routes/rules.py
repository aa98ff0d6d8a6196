"""Rules and tiers: list, create, edit, enable / disable, delete (kept in history), and the live preview of what
a receipt earns. Operators see them and the preview; only the owner changes them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request

from ... import cards, clock, shop, shops
from ...data.db import write_transaction
from ...errors import DomainError, NotFound
from ...ledger import rules, tiers
from .. import audit
from ..rule_preview import local_time, preview
from ..web import Admin, check_csrf, owner_only, render, signed_in
from .customers import _minor

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
Csrf = Annotated[str, Form()]
Text = Annotated[str, Form(max_length=100)]
Short = Annotated[str, Form(max_length=30)]
WEEKDAYS = "1234567"


def basis_points(text: str) -> int:
    """'10' or '2,5' percent -> 1000 or 250 basis points."""
    try:
        value = Decimal(text.strip().replace(",", ".").rstrip("%").strip())
    except InvalidOperation:
        raise DomainError("bad_percent", "the percent is not a number") from None
    points = value * 100
    if not value.is_finite() or points != points.to_integral_value() or not 0 <= points <= 10_000:
        raise DomainError("bad_percent", "a percent from 0 to 100 with at most two decimals")
    return int(points)


def _time(text: str) -> int | None:
    return rules.parse_time(text) if text.strip() else None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        raise DomainError("bad_rule_dates", "a date is YYYY-MM-DD") from None


def rule_fields(form: dict, currency: str) -> dict:
    """The rule form's fields (as typed) -> rules.check's fields; DomainError says what is wrong."""
    kind = form.get("kind") or "percent"
    value_text = form.get("value") or ""
    if not value_text.strip():
        raise DomainError("bad_rule_value", "say how much the rule gives")
    value = basis_points(value_text) if kind == "percent" else _minor(value_text, currency)
    try:
        priority = int(form.get("priority") or 10)
    except ValueError:
        raise DomainError("bad_priority", "the priority is a whole number") from None
    days = "".join(d for d in WEEKDAYS if d in form.get("weekdays", []))
    return {"name": form.get("name", ""), "kind": kind, "value": value, "priority": priority,
            "combine": form.get("combine") == "on", "card_type": form.get("card_type") or None,
            "weekdays": days if days and days != WEEKDAYS else None, "time_from": _time(form.get("time_from", "")),
            "time_to": _time(form.get("time_to", "")), "valid_from": _date(form.get("valid_from", "")),
            "valid_to": _date(form.get("valid_to", "")), "shops": list(form.get("shops", [])) or None}


def form_of(rule: dict, currency: str) -> dict:
    """A stored rule -> the form's fields as typed (for editing it)."""
    from loyalty_common.money import precision

    def hhmm(minutes):
        return "" if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"
    value = (f"{Decimal(rule['value']) / 100:f}".rstrip("0").rstrip(".") if rule["kind"] == "percent"
             else f"{Decimal(rule['value']).scaleb(-precision(currency)):f}")
    return {"name": rule["name"], "kind": rule["kind"], "value": value, "priority": str(rule["priority"]),
            "combine": "on" if rule["combine"] else "", "card_type": rule["card_type"] or "",
            "weekdays": list(rule["weekdays"] or WEEKDAYS), "time_from": hhmm(rule["time_from"]),
            "time_to": hhmm(rule["time_to"]),
            "valid_from": rule["valid_from"].isoformat() if rule["valid_from"] else "",
            "valid_to": rule["valid_to"].isoformat() if rule["valid_to"] else "", "shops": list(rule["shops"] or [])}


async def _form(request: Request) -> dict:
    data = await request.form()
    return {k: (data.getlist(k) if k in ("weekdays", "shops") else str(data.get(k) or ""))[:200] for k in data}


def _preview_of(request: Request, conn, admin: Admin) -> tuple[dict, dict | None, str | None]:
    """The preview form's values (defaults: 100.00 now, standard card, tier by turnover) and its result."""
    q = request.query_params
    now_local = clock.now().astimezone(ZoneInfo(admin.shop["timezone"]))
    asked = {"amount": q.get("amount", "100"), "at": q.get("at") or now_local.strftime("%Y-%m-%dT%H:%M"),
             "card_type": q.get("card_type", "standard"), "tier": q.get("tier", ""), "shop": q.get("shop", "")}
    try:
        amount = _minor(asked["amount"], admin.shop["currency"])
        if amount <= 0:
            raise DomainError("bad_amount", "the amount is positive")
        where = asked["shop"] or None
        zone = shop.get(conn, "timezone", shop=where) if where else admin.shop["timezone"]
        result = preview(conn, amount=amount, at=local_time(asked["at"], zone), card_type=asked["card_type"],
                         tier=asked["tier"] or None, shop_code=where)
    except DomainError as e:
        return asked, None, e.code
    return asked, result, None


def back(url: str, ok: str, anchor: str):
    """web.back with the place on the page to return to (after the query, where a browser looks for it)."""
    from urllib.parse import quote

    from fastapi.responses import RedirectResponse

    return RedirectResponse(f"{url}?ok={quote(ok)}{anchor}", status_code=303)


def helpers(admin: Admin) -> dict:
    """What the rule templates format with: weekday names, percents and amounts as typed in a form."""
    from babel.dates import get_day_names
    from babel.numbers import format_decimal

    from loyalty_common.money import precision

    from ..setup_words import OVERLAPS

    names = get_day_names("abbreviated", locale=admin.lang)
    digits = precision(admin.shop["currency"])
    return {"day_names": [names[i] for i in range(7)],
            "pct": lambda points: format_decimal(Decimal(points) / 100, locale=admin.lang),
            "plain_money": lambda minor: f"{Decimal(minor).scaleb(-digits):f}", "overlap_words": OVERLAPS}


def _page(request: Request, admin: Admin, status: int = 200, **context):
    with request.app.state.engine.connect() as conn:
        asked, result, preview_error = _preview_of(request, conn, admin)
        loaded = rules.load(conn)
        page = dict(rows=rules.listing(conn), deleted=rules.listing(conn, deleted=True),
                    overlaps=rules.overlaps(loaded), tier_rows=tiers.listing(conn),
                    card_types=cards.types_with_counts(conn), asked=asked, result=result,
                    preview_error=preview_error, tier_days=shop.get(conn, "tier_period_days"),
                    shop_rows=shops.listing(conn))
    context.setdefault("form", {"kind": "percent", "priority": "10", "combine": "on", "weekdays": list(WEEKDAYS)})
    return render(request, "rules.html", admin, status=status, weekdays=WEEKDAYS, **page, **helpers(admin),
                  **context)


@router.get("/rules")
def rules_page(request: Request, admin: Signed):
    return _page(request, admin)


@router.get("/rules/preview")
def rules_preview(request: Request, admin: Signed):
    """The preview's result alone: the page's script puts it in place as the form is typed in."""
    with request.app.state.engine.connect() as conn:
        asked, result, preview_error = _preview_of(request, conn, admin)
    return render(request, "rule_preview.html", admin, asked=asked, result=result, preview_error=preview_error,
                  **helpers(admin))


def _saved(request: Request, admin: Admin, action: str, change, target: str, details: dict | None = None):
    with write_transaction(request.app.state.engine) as conn:
        result = change(conn)
        audit.record(conn, account=admin.name, action=action, target=target, details=details,
                     address=admin.address)
    return result


@router.post("/rules")
async def create_rule(request: Request, admin: Signed):
    form = await _form(request)
    check_csrf(admin, form.get("csrf"))
    owner_only(admin)
    try:
        fields = rule_fields(form, admin.shop["currency"])
        rule_id = _saved(request, admin, "rule_created", lambda c: rules.create(c, by=admin.name, **fields),
                         fields["name"], _plain(fields))
    except DomainError as e:
        return _page(request, admin, status=400, error=e.code, error_message=e.message, form=form, open_new=True)
    return back("/admin/rules", "rule_created", f"#rule-{rule_id}")


def _plain(fields: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()}


def _edit_page(request: Request, admin: Admin, rule_id: int, status: int = 200, **context):
    with request.app.state.engine.connect() as conn:
        rule = rules.get(conn, rule_id)
        history = rules.history(conn, rule_id)
        types = cards.types_with_counts(conn)
        context.setdefault("shop_rows", shops.listing(conn))
    context.setdefault("form", form_of(rule, admin.shop["currency"]))
    return render(request, "rule_edit.html", admin, status=status, rule=rule, history=history, card_types=types,
                  weekdays=WEEKDAYS, **helpers(admin), **context)


@router.get("/rules/{rule_id}")
def rule_page(rule_id: int, request: Request, admin: Signed):
    return _edit_page(request, admin, rule_id)


@router.post("/rules/{rule_id}")
async def edit_rule(rule_id: int, request: Request, admin: Signed):
    form = await _form(request)
    check_csrf(admin, form.get("csrf"))
    owner_only(admin)
    try:
        fields = rule_fields(form, admin.shop["currency"])
        _saved(request, admin, "rule_edited", lambda c: rules.edit(c, rule_id, by=admin.name, **fields),
               str(rule_id), _plain(fields))
    except DomainError as e:
        return _edit_page(request, admin, rule_id, status=400, error=e.code, error_message=e.message, form=form)
    return back("/admin/rules", "rule_saved", f"#rule-{rule_id}")


@router.post("/rules/{rule_id}/{action}")
def rule_action(rule_id: int, action: str, request: Request, admin: Signed, csrf: Csrf = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    changes = {"enable": lambda c: rules.set_active(c, rule_id, True, by=admin.name),
               "disable": lambda c: rules.set_active(c, rule_id, False, by=admin.name),
               "delete": lambda c: rules.delete(c, rule_id, by=admin.name)}
    if action not in changes:
        raise NotFound("not_found", "no such action")
    _saved(request, admin, f"rule_{action}d", changes[action], str(rule_id))
    return back("/admin/rules", f"rule_{action}d", f"#rule-{rule_id}")


# --- Tiers ----------------------------------------------------------------------------------------------------

def _tier_fields(admin: Admin, name: str, min_turnover: str, percent: str) -> dict:
    return {"name": name, "min_turnover": _minor(min_turnover or "0", admin.shop["currency"]),
            "rate": basis_points(percent or "0")}


@router.post("/tiers")
def create_tier(request: Request, admin: Signed, csrf: Csrf = "", name: Text = "",
                min_turnover: Short = "", percent: Short = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    try:
        fields = _tier_fields(admin, name, min_turnover, percent)
        _saved(request, admin, "tier_created", lambda c: tiers.create(c, by=admin.name, **fields), name, fields)
    except DomainError as e:
        return _page(request, admin, status=400, error=e.code, error_message=e.message,
                     tier_form={"name": name, "min_turnover": min_turnover, "percent": percent})
    return back("/admin/rules", "tier_created", "#tiers")


@router.post("/tiers/{tier_id}")
def edit_tier(tier_id: int, request: Request, admin: Signed, csrf: Csrf = "", name: Text = "",
              min_turnover: Short = "", percent: Short = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    try:
        fields = _tier_fields(admin, name, min_turnover, percent)
        _saved(request, admin, "tier_edited", lambda c: tiers.edit(c, tier_id, by=admin.name, **fields),
               str(tier_id), fields)
    except DomainError as e:
        return _page(request, admin, status=400, error=e.code, error_message=e.message)
    return back("/admin/rules", "tier_saved", "#tiers")


@router.post("/tiers/{tier_id}/delete")
def delete_tier(tier_id: int, request: Request, admin: Signed, csrf: Csrf = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    _saved(request, admin, "tier_deleted", lambda c: tiers.delete(c, tier_id, by=admin.name), str(tier_id))
    return back("/admin/rules", "tier_deleted", "#tiers")

