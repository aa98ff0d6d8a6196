"""Settings (owner only): every setting of settings_schema.py in a form, grouped, with its type, default and
description; the chain's values, or one shop's own values over the chain's. Values are read and checked by
settings_schema.parse, the same as `store-server settings set`; all changes of one save are one transaction
(all saved or none), each one audited. Devices get them with their next heartbeat or GET /config."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ... import settings_schema, shop, shops
from ...data.db import write_transaction
from ...errors import DomainError
from .. import audit, i18n
from ..setting_words import DESCRIPTIONS, GROUPS, type_words
from ..web import Admin, back, check_csrf, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
MAX_VALUE = 4000  # characters a field may hold (the questionnaire's JSON is the longest)


def widget(setting: settings_schema.Setting) -> tuple[str, list[str]]:
    """How the form asks for a setting: ("yesno"|"choice"|"text"|"long", the choices)."""
    kind = settings_schema.describe_type(setting)
    if kind == "yes/no":
        return "yesno", []
    plain_kind = kind.removesuffix(" or none")
    if plain_kind.startswith("one of ") and " or " not in plain_kind:
        return "choice", plain_kind.removeprefix("one of ").split("|") + (["none"] if kind != plain_kind else [])
    if kind.startswith("map") or "list of map" in kind or "list of value" in kind:
        return "long", []
    return "text", []


def rows(conn, code: str | None) -> list[dict]:
    """Every setting the page shows at this level: the chain's, or (for a shop) the ones a shop may own."""
    chain = {**settings_schema.DEFAULTS, **shop.stored(conn)}
    own = shops.own_settings(conn, code) if code else {}
    found = []
    for s in settings_schema.SETTINGS:
        if code and not s.per_shop:
            continue
        value = own[s.key] if code and s.key in own else chain.get(s.key)
        kind, choices = widget(s)
        found.append({"key": s.key, "group": s.group, "type": settings_schema.describe_type(s),
                      "description": DESCRIPTIONS.get(s.key), "english": s.description,
                      "default": settings_schema.plain(s.default), "text": settings_schema.plain(value),
                      "is_default": value == s.default, "own": code is not None and s.key in own,
                      "chain": settings_schema.plain(chain.get(s.key)), "device": s.device,
                      "widget": kind, "choices": choices})
    return found


def _page(request: Request, admin: Admin, code: str | None, status: int = 200, **context):
    owner_only(admin)
    with request.app.state.engine.connect() as conn:
        known = shops.listing(conn)
        if code:
            shops.get(conn, code)  # an unknown shop is a clear error, not an empty form
        listed = rows(conn, code)
    entered, problems = context.pop("entered", {}), context.pop("problems", {})
    gettext = i18n.translations(admin.lang).gettext
    for row in listed:
        row["type"] = type_words(row["type"], gettext)
        if row["key"] in entered:
            row["text"] = entered[row["key"]]
        row["problem"] = problems.get(row["key"])
    groups = [(key, GROUPS.get(key, title), [r for r in listed if r["group"] == key])
              for key, title in settings_schema.GROUPS.items()]
    # which gateways send each shop's customers their SMS (the chain's, or a shop's own [sms.shops.CODE])
    from ...messaging.sms.registry import serving

    sms_serving = serving(request.app.state.config.sms, [code] if code else [s["code"] for s in known])
    return render(request, "settings.html", admin, status=status, groups=[g for g in groups if g[2]],
                  shops=known, code=code or "", sms_serving=sms_serving, **context)


@router.get("/settings")
def settings_page(request: Request, admin: Signed, shop_code: str = ""):
    return _page(request, admin, shop_code.strip() or None)


def _save(conn, admin: Admin, code: str | None, form) -> int:
    """Applies the form's changes; raises SettingsRefused with every problem found (then nothing is kept)."""
    current = {r["key"]: r for r in rows(conn, code)}
    problems: dict[str, str] = {}
    changed = 0
    for key, row in current.items():
        text = str(form.get(f"v.{key}", row["text"]))[:MAX_VALUE]
        reset = form.get(f"reset.{key}") == "on"
        if reset and (row["own"] if code else not row["is_default"]):
            (shops.reset_setting(conn, code, key) if code else shop.reset_setting(conn, key))
            audit.record(conn, account=admin.name, action="setting_reset", target=key,
                         details={"shop": code, "old": row["text"]}, address=admin.address)
            changed += 1
            continue
        if reset or text.strip() == row["text"]:
            continue
        try:
            value = settings_schema.parse(key, text)
            (shops.set_setting(conn, code, key, value) if code else shop.set_setting(conn, key, value))
        except DomainError as e:
            problems[key] = e.message.removeprefix(f"{key}: ")
            continue
        audit.record(conn, account=admin.name, action="setting_changed", target=key,
                     details={"shop": code, "old": row["text"], "new": settings_schema.plain(value)},
                     address=admin.address)
        changed += 1
    if problems:
        raise SettingsRefused(problems)
    return changed


class SettingsRefused(Exception):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("settings refused")
        self.problems = problems


@router.post("/settings")
async def save_settings(request: Request, admin: Signed):
    form = await request.form()
    check_csrf(admin, form.get("csrf"))
    owner_only(admin)
    code = str(form.get("shop_code") or "").strip() or None
    try:
        with write_transaction(request.app.state.engine) as conn:
            changed = _save(conn, admin, code, form)
    except SettingsRefused as e:
        entered = {k.removeprefix("v."): str(v)[:MAX_VALUE] for k, v in form.items() if k.startswith("v.")}
        return _page(request, admin, code, status=400, error="bad_setting", entered=entered, problems=e.problems)
    target = "/admin/settings" + (f"?shop_code={code}" if code else "")
    return back(target, ok="settings_saved" if changed else "settings_unchanged")
