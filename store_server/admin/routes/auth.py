"""Signing in and out, changing one's password, choosing the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from ...data.db import write_transaction
from ...errors import DomainError
from .. import accounts, audit
from ..i18n import LANGUAGES
from ..web import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Admin,
    NeedLogin,
    address,
    back,
    check_csrf,
    login_csrf,
    render,
    session_cookie,
    signed_in,
)

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]


def _safe_next(target: str | None) -> str:
    # Only our own pages: a crafted link must not send the owner elsewhere after signing in.
    return target if target and target.startswith("/admin/") and not target.startswith("//") else "/admin/dashboard"


@router.get("/")
def home(_admin: Signed):
    return RedirectResponse("/admin/dashboard", status_code=303)


def _login_page(request: Request, *, error: str | None = None, status: int = 200, name: str = ""):
    cookie, token = login_csrf(request)
    response = render(request, "login.html", status=status, error=error, csrf=token, name=name,
                      next=_safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_COOKIE, cookie, httponly=True, samesite="strict", path="/admin",
                        secure=request.url.scheme == "https")
    return response


@router.get("/login")
def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=200)] = "", csrf: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = ""):
    _cookie, expected = login_csrf(request)
    if not request.cookies.get(LOGIN_COOKIE) or csrf != expected:
        return _login_page(request, error="csrf", status=403, name=name)
    engine = request.app.state.engine
    with write_transaction(engine) as conn:
        try:
            account = accounts.authenticate(conn, name, password, address(request))
        except DomainError as e:
            failure = e
        else:
            failure = None
            session_id = accounts.open_session(conn, account["id"], address(request))
            audit.record(conn, account=account["name"], action="sign_in", address=address(request))
    if failure is not None:  # the failed try is committed above, so it counts
        return _login_page(request, error=failure.code, status=failure.status, name=name)
    response = RedirectResponse(_safe_next(next), status_code=303)
    session_cookie(request, response, session_id)
    response.delete_cookie(LOGIN_COOKIE, path="/admin")
    if account.get("lang") in LANGUAGES:  # this browser's sign-in page speaks it too from now on
        _language_cookie(response, account["lang"])
    return response


@router.post("/logout")
def logout(request: Request, admin: Signed, csrf: Annotated[str, Form()] = ""):
    check_csrf(admin, csrf)
    with write_transaction(request.app.state.engine) as conn:
        accounts.close_session(conn, admin.session_id)
        audit.record(conn, account=admin.name, action="sign_out", address=admin.address)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@router.get("/password")
def password_form(request: Request, admin: Signed):
    return render(request, "password.html", admin)


@router.post("/password")
def change_password(request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
                    current: Annotated[str, Form(max_length=200)] = "",
                    new: Annotated[str, Form(max_length=200)] = "", again: Annotated[str, Form(max_length=200)] = ""):
    check_csrf(admin, csrf)
    if new != again:
        return render(request, "password.html", admin, status=400, error="passwords_differ")
    try:
        with write_transaction(request.app.state.engine) as conn:
            accounts.change_password(conn, admin.account["id"], current, new)
            audit.record(conn, account=admin.name, action="password_changed", address=admin.address)
            # Every session ended with the old password; this browser gets a new one.
            session_id = accounts.open_session(conn, admin.account["id"], admin.address)
    except DomainError as e:
        return render(request, "password.html", admin, status=400, error=e.code)
    response = back("/admin/password", ok="password_changed")
    session_cookie(request, response, session_id)
    return response


def _language_cookie(response, lang: str) -> None:
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/admin")


@router.get("/lang/{lang}")
def choose_language(lang: str, request: Request):
    response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    if lang in LANGUAGES:
        _language_cookie(response, lang)
        try:  # signed in: the account keeps it (the account page says so)
            admin = signed_in(request)
        except NeedLogin:
            return response
        with write_transaction(request.app.state.engine) as conn:
            accounts.set_language(conn, admin.account["id"], lang)
    return response


@router.post("/account/language")
def save_language(request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
                  lang: Annotated[str, Form(max_length=8)] = ""):
    check_csrf(admin, csrf)
    if lang not in LANGUAGES:
        return render(request, "password.html", admin, status=400, error="unknown_language")
    with write_transaction(request.app.state.engine) as conn:
        accounts.set_language(conn, admin.account["id"], lang)
    response = back("/admin/password", ok="language_saved")
    _language_cookie(response, lang)
    return response
