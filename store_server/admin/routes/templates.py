"""SMS templates: the text each purpose sends in each language, edited by the owner, checked, with its live
segment count; and the shop's public name per language. Everyone signed in may read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from ...data.db import write_transaction
from ...messaging.sms import segments, templates, texts
from .. import audit
from ..i18n import N_, translations
from ..web import Admin, back, check_csrf, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]

# What each text is for, as the owner reads it.
PURPOSES = {
    "code_register": N_("Code to join at the kiosk"),
    "code_identify": N_("Code to see the card at the kiosk"),
    "code_redeem": N_("Code to pay with bonuses"),
    "code_sale": N_("Code to pay with bonuses and a discount"),
    "code_discount": N_("Code for a discount"),
    "code_return": N_("Code to confirm a return"),
    "code": N_("Code for anything else"),
    "welcome": N_("Welcome after activation"),
    "welcome_link": N_("Welcome with the card page's link"),
    "notice_accrual": N_("Notice: bonuses earned"),
    "notice_redeem": N_("Notice: bonuses spent"),
    "notice_sale": N_("Notice: purchase"),
    "notice_return": N_("Notice: return"),
    "notice_cancel": N_("Notice: purchase cancelled"),
    "notice_flagged": N_("Answer to \"Not you? NO\""),
    "opted_out": N_("Answer to STOP"),
    "activation_no_number": N_("Activation by SMS: no card number"),
    "activation_unknown_card": N_("Activation by SMS: unknown card"),
    "activation_phone_has_card": N_("Activation by SMS: phone has a card"),
    "activation_card_other_phone": N_("Activation by SMS: card on another phone"),
    "activation_already_active": N_("Activation by SMS: already active"),
    "activation_card_blocked": N_("Activation by SMS: card blocked"),
    "activation_needs_till": N_("Activation by SMS: card holds bonuses"),
    "activation_code_required": N_("Activation by SMS: code required"),
    "owner_alert": N_("To the owner: a customer replied NO"),
    "pumping_alert": N_("To the owner: codes stopped by the SMS limit"),
}
PROBLEMS = {
    "empty": N_("The text is empty."),
    "too_long": N_("The text is longer than %(limit)s characters."),
    "name_too_long": N_("The name is longer than %(limit)s characters."),
    "braces": N_("A brace { or } has no partner. Placeholders are written like {code}."),
    "unknown": N_("This text cannot fill in %(names)s. It may use: %(allowed)s."),
    "missing": N_("The text must contain %(names)s."),
}
assert set(PURPOSES) == set(texts.PURPOSES)


def problem_text(lang: str, problem: texts.Problem, purpose: str | None = None) -> str:
    gettext = translations(lang).gettext
    allowed = " ".join("{" + p + "}" for p in sorted(texts.placeholders(purpose)[1])) if purpose else ""
    limit = problem.names[0] if problem.names else ""
    return gettext(PROBLEMS[problem.code]) % {"names": ", ".join(problem.names), "allowed": allowed,
                                              "limit": limit}


def _examples(admin: Admin, lang: str) -> dict[str, str]:
    return texts.examples(lang, admin.shop["currency"], admin.shop["country"] or "")


def _purpose(purpose: str, lang: str) -> None:
    from ..web import Refused

    if purpose not in PURPOSES or lang not in templates.LANGUAGES:
        raise Refused("not_found")


@router.get("/templates")
def template_list(request: Request, admin: Signed):
    return _list(request, admin)


def _list(request: Request, admin: Admin, status: int = 200, **context):
    with request.app.state.engine.connect() as conn:
        edited, names = texts.all_custom(conn), texts.names(conn)
    default_name = admin.shop["name"] or ""
    values = {lang: _examples(admin, lang) for lang in templates.LANGUAGES}
    rows = []
    for purpose in texts.PURPOSES:
        cells = []
        for lang in templates.LANGUAGES:
            text = edited.get((purpose, lang), {}).get("text") or texts.builtin(purpose, lang)
            count = segments.count(texts.example(text, names.get(lang) or default_name, values[lang]))
            cells.append({"lang": lang, "edited": (purpose, lang) in edited, "parts": count.parts})
        rows.append({"purpose": purpose, "label": PURPOSES[purpose], "cells": cells})
    return render(request, "templates.html", admin, status=status, rows=rows,
                  names={**names, **context.pop("given", {})}, default_name=default_name,
                  languages=templates.LANGUAGES, max_name=texts.MAX_NAME, **context)


def _editor(request: Request, admin: Admin, purpose: str, lang: str, *, text: str | None = None,
            problem: str | None = None, status: int = 200):
    with request.app.state.engine.connect() as conn:
        custom = texts.all_custom(conn).get((purpose, lang))
        name = texts.public_name(conn, lang, admin.shop["name"] or "")
    builtin = texts.builtin(purpose, lang)
    shown = text if text is not None else (custom["text"] if custom else builtin)
    required, allowed = texts.placeholders(purpose)
    values = _examples(admin, lang)
    count = segments.count(texts.example(shown, name, values))
    return render(request, "template_edit.html", admin, status=status, purpose=purpose, label=PURPOSES[purpose],
                  text_lang=lang, text=shown, builtin=builtin, custom=custom, name=name,
                  required=sorted(required), optional=sorted(allowed - required), count=count,
                  sample=texts.example(shown, name, values), summary=count_summary(admin.lang, count), problem=problem,
                  max_text=texts.MAX_TEXT)


@router.get("/templates/{purpose}/{lang}")
def template_page(purpose: str, lang: str, request: Request, admin: Signed):
    _purpose(purpose, lang)
    return _editor(request, admin, purpose, lang)


@router.post("/templates/{purpose}/{lang}")
def template_save(purpose: str, lang: str, request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
                  text: Annotated[str, Form(max_length=4000)] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    _purpose(purpose, lang)
    try:
        with write_transaction(request.app.state.engine) as conn:
            kept = texts.save(conn, purpose, lang, text, by=admin.name)
            audit.record(conn, account=admin.name, action="sms_text_edited", target=f"{purpose}/{lang}",
                         details={"text": kept}, address=admin.address)
    except texts.Problem as p:
        return _editor(request, admin, purpose, lang, text=text, problem=problem_text(admin.lang, p, purpose),
                       status=422)
    return back(f"/admin/templates/{purpose}/{lang}", ok="sms_text_saved")


@router.post("/templates/{purpose}/{lang}/restore")
def template_restore(purpose: str, lang: str, request: Request, admin: Signed, csrf: Annotated[str, Form()] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    _purpose(purpose, lang)
    with write_transaction(request.app.state.engine) as conn:
        if texts.restore(conn, purpose, lang):
            audit.record(conn, account=admin.name, action="sms_text_restored", target=f"{purpose}/{lang}",
                         address=admin.address)
    return back(f"/admin/templates/{purpose}/{lang}", ok="sms_text_restored")


@router.post("/templates/{purpose}/{lang}/count")
def template_count(purpose: str, lang: str, request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
                   text: Annotated[str, Form(max_length=4000)] = ""):
    """The live count the editor shows while the owner types (static/templates.js): the text with example
    values, its parts and encoding, and what is wrong with it, if anything."""
    check_csrf(admin, csrf)
    _purpose(purpose, lang)
    with request.app.state.engine.connect() as conn:
        name = texts.public_name(conn, lang, admin.shop["name"] or "")
    try:
        texts.check(purpose, text)
        problem = None
    except texts.Problem as p:
        problem = problem_text(admin.lang, p, purpose)
    sample = texts.example(text.replace("\r\n", "\n").strip(), name, _examples(admin, lang))
    count = segments.count(sample)
    return JSONResponse({**count.as_dict(), "sample": sample, "problem": problem,
                         "summary": count_summary(admin.lang, count)})


def count_summary(lang: str, count: segments.Segments) -> str:
    """"2 SMS parts · UCS-2 (any alphabet) · 93 characters, 41 left before the next part"."""
    catalogue = translations(lang)
    parts = catalogue.ngettext("%(num)d SMS part", "%(num)d SMS parts", count.parts) % {"num": count.parts}
    encoding = (catalogue.gettext("GSM-7 (Latin letters)") if count.encoding == "GSM-7"
                else catalogue.gettext("UCS-2 (any alphabet)"))
    chars = catalogue.ngettext("%(num)d character", "%(num)d characters", count.units) % {"num": count.units}
    left = catalogue.ngettext("%(num)d left before the next part", "%(num)d left before the next part",
                              count.left) % {"num": count.left}
    return f"{parts} · {encoding} · {chars}, {left}"


@router.post("/templates/names")
def names_save(request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
               name_en: Annotated[str, Form(max_length=200)] = "", name_uk: Annotated[str, Form(max_length=200)] = "",
               name_ru: Annotated[str, Form(max_length=200)] = "", name_kk: Annotated[str, Form(max_length=200)] = "",
               name_vi: Annotated[str, Form(max_length=200)] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    given = {"en": name_en, "uk": name_uk, "ru": name_ru, "kk": name_kk, "vi": name_vi}
    try:
        with write_transaction(request.app.state.engine) as conn:
            for lang, name in given.items():
                texts.save_name(conn, lang, name, by=admin.name)
            audit.record(conn, account=admin.name, action="public_names_edited", details=texts.names(conn),
                         address=admin.address)
    except texts.Problem as p:
        return _list(request, admin, status=422, names_problem=problem_text(admin.lang, p), given=given)
    return back("/admin/templates", ok="public_names_saved")
