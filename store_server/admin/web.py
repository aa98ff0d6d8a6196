"""What every back-office page shares: rendering in the reader's language, the signed session cookie,
the sign-in and role guards and the CSRF check."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from loyalty_common.phones import mask

from .. import shop
from ..data.db import write_transaction
from ..security import keyed_hash, new_secret, same
from . import accounts, i18n, messages

TEMPLATES = Path(__file__).parent / "templates"
SESSION_COOKIE = "lk_admin"
LOGIN_COOKIE = "lk_admin_login"  # a random value the login form's CSRF token is bound to
LANG_COOKIE = "lk_admin_lang"


class NeedLogin(Exception):
    """No valid session: the page redirects to the sign-in form."""


class Refused(Exception):
    """403 with a page that says why (wrong role, a form without its CSRF token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@cache
def environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    catalogue = i18n.translations(lang)
    env.install_gettext_translations(catalogue, newstyle=True)
    env.globals.update(mask=mask, LANGUAGES=i18n.LANGUAGES, LANGUAGE_NAMES=i18n.NAMES, quote=quote,
                       word=lambda table, code, fallback=None: messages.word(catalogue.gettext, table, code, fallback),
                       zone_name=lambda timezone: i18n.zone_name(timezone, lang))
    return env


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.config.secret_key or "dev", salt="admin-session")


def address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def lang_of(request: Request) -> str:
    return i18n.pick(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


@dataclass
class Admin:
    """The signed-in account for one request."""

    account: dict
    session_id: str
    lang: str
    address: str
    csrf: str
    shop: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.account["name"]

    @property
    def is_owner(self) -> bool:
        return self.account["role"] == "owner"

    @property
    def shops(self) -> list[str] | None:
        """The shops this account may see (an operator limited with `store-server admin shops`); None: all."""
        limited = self.account.get("shops")
        return None if self.is_owner or not limited else list(limited)


def shop_view(conn) -> dict:
    country = shop.get(conn, "country")
    return {"name": shop.get(conn, "public_name"), "country": country, "timezone": shop.get(conn, "timezone"),
            "currency": shop.currency(conn),
            "questionnaire": shop.get(conn, "questionnaire") or []}


def signed_in(request: Request) -> Admin:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        raise NeedLogin()
    try:
        session_id = _serializer(request).loads(raw, max_age=int(accounts.SESSION_IDLE.total_seconds()))
    except BadSignature:
        raise NeedLogin() from None
    with write_transaction(request.app.state.engine) as conn:
        account = accounts.session_account(conn, session_id)
        if account is None:
            raise NeedLogin()
        shop_info = shop_view(conn)
    secret = request.app.state.config.secret_key or "dev"
    # The account's own language first (chosen on its account page, or with the header's menu while signed
    # in), so an owner reads the back office in Ukrainian on any computer; else the cookie or the browser's.
    lang = account.get("lang") if account.get("lang") in i18n.LANGUAGES else lang_of(request)
    return Admin(account=account, session_id=session_id, lang=lang, address=address(request),
                 csrf=keyed_hash(secret, "csrf", session_id)[:40], shop=shop_info)


def owner_only(admin: Admin) -> None:
    if not admin.is_owner:
        raise Refused("owner_only")


def check_csrf(admin: Admin, token: str | None) -> None:
    if not token or not same(token, admin.csrf):
        raise Refused("csrf")


def login_csrf(request: Request) -> tuple[str, str]:
    """(cookie value, form token) for the sign-in form, which has no session yet."""
    value = request.cookies.get(LOGIN_COOKIE) or new_secret(16)
    return value, keyed_hash(request.app.state.config.secret_key or "dev", "login", value)[:40]


def session_cookie(request: Request, response, session_id: str) -> None:
    response.set_cookie(SESSION_COOKIE, _serializer(request).dumps(session_id), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/admin")


def render(request: Request, template: str, admin: Admin | None = None, status: int = 200, **context) -> HTMLResponse:
    lang = admin.lang if admin else lang_of(request)
    shop_info = admin.shop if admin else {}
    formats = i18n.Formats(lang, shop_info.get("currency") or "UAH", shop_info.get("timezone") or "UTC",
                           shop_info.get("country") or "")
    html = environment(lang).get_template(template).render(
        request=request, admin=admin, lang=lang, money=formats.money, when=formats.when, wall=formats.wall,
        shop=shop_info, path=request.url.path, query=str(request.url.query), **context)
    response = HTMLResponse(html, status_code=status)
    # Pages show customers' data: no caching by the browser or a proxy, no framing by another site.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; "
                                                   "style-src 'self'; script-src 'self'; frame-ancestors 'none'")
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def back(url: str, ok: str | None = None) -> RedirectResponse:
    """After a form: see the page again (Post/Redirect/Get), with what was done."""
    if ok:
        url += ("&" if "?" in url else "?") + "ok=" + quote(ok)
    return RedirectResponse(url, status_code=303)
