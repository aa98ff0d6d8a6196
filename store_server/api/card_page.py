"""The digital card's public page, `/c/<link_id>`: what the customer's phone opens from the SMS or the kiosk's QR.

No device key: the unguessable link is the key (store_server/digital_card.py). The page shows the shop's
name, the card number and a QR of `lk://card/<token>` that any of the shop's scanners reads; the token is
short-lived, so the page reloads itself before it runs out. Balance, history and phone stay off the page: an
SMS link gets forwarded, previewed by messengers and left in browser histories, and the card itself needs
none of them (the kiosk and the till show the balance once the QR is scanned).
"""

from __future__ import annotations

import html
from typing import Annotated

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from .. import clock, digital_card, shop
from ..data.db import cards

router = APIRouter()

TEXTS: dict[str, dict[str, str]] = {
    "card": {"en": "Loyalty card", "uk": "Картка лояльності", "ru": "Карта лояльности", "kk": "Адалдық картасы",
             "vi": "Thẻ khách hàng thân thiết"},
    "show": {
        "en": "Show this QR code at the till or scan it at the kiosk.",
        "uk": "Покажіть цей QR-код на касі або відскануйте його в кіоску.",
        "ru": "Покажите этот QR-код на кассе или отсканируйте его в киоске.",
        "kk": "Бұл QR-кодты кассада көрсетіңіз немесе киоскіде сканерлеңіз.",
        "vi": "Đưa mã QR này cho thu ngân hoặc quét nó tại ki-ốt.",
    },
    "renews": {
        "en": "The code renews itself every few minutes: keep this page open or reload it.",
        "uk": "Код оновлюється кожні кілька хвилин: тримайте сторінку відкритою або оновіть її.",
        "ru": "Код обновляется каждые несколько минут: держите страницу открытой или обновите её.",
        "kk": "Код бірнеше минут сайын жаңарады: бетті ашық ұстаңыз немесе қайта жүктеңіз.",
        "vi": "Mã tự làm mới sau vài phút: hãy giữ trang này mở hoặc tải lại trang.",
    },
    "blocked": {
        "en": "This card is blocked. Please ask at the till.",
        "uk": "Картку заблоковано. Зверніться до каси.",
        "ru": "Карта заблокирована. Обратитесь на кассу.",
        "kk": "Карта бұғатталған. Кассаға жүгініңіз.",
        "vi": "Thẻ này đã bị khóa. Vui lòng hỏi thu ngân.",
    },
    "not_found": {
        "en": "This card link is not valid. Check the link in the SMS or ask at the till.",
        "uk": "Посилання на картку недійсне. Перевірте посилання в SMS або зверніться до каси.",
        "ru": "Ссылка на карту недействительна. Проверьте ссылку в SMS или обратитесь на кассу.",
        "kk": "Карта сілтемесі жарамсыз. SMS-тегі сілтемені тексеріңіз немесе кассаға жүгініңіз.",
        "vi": "Liên kết thẻ không hợp lệ. Hãy kiểm tra liên kết trong SMS hoặc hỏi thu ngân.",
    },
}
LANGUAGES = tuple(TEXTS["card"])
# Inline styles only, no scripts, nothing fetched from elsewhere: the page must work on any phone browser.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "Vary": "Accept-Language"}
STYLE = ("body{margin:0;font-family:system-ui,sans-serif;background:#f4f1ea;color:#1d1d1d;text-align:center}"
         "main{max-width:28rem;margin:0 auto;padding:1.5rem 1rem}h1{font-size:1.4rem;margin:.2rem 0}"
         ".kind{color:#666;margin:0}.number{font-size:2rem;font-weight:700;letter-spacing:.08em;margin:.6rem 0}"
         ".qr{background:#fff;padding:.5rem;border-radius:.5rem}.qr svg{width:100%;height:auto;display:block}"
         ".small{color:#666;font-size:.9rem}.alert{color:#a11;font-weight:700}")


def choose_language(wanted: str | None, accept: str | None, shop_languages: list[str]) -> str:
    """?lang= first, then the browser's Accept-Language by preference, then the shop's first language."""
    offered = [lang for lang in shop_languages if lang in LANGUAGES] or ["en"]
    if wanted and wanted.lower() in offered:
        return wanted.lower()
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        ranked.append((-q, i, tag.split("-")[0].strip().lower()))
    for q, _i, lang in sorted(ranked):
        if q < 0 and lang in offered:
            return lang
    return offered[0]


def qr_svg(payload: str) -> str:
    # The SVG factory needs no image library; one square per dark module, scaled by the page's CSS.
    image = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage, border=2,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    svg = image.to_string(encoding="unicode")
    return svg[svg.index("<svg"):]


def _page(lang: str, title: str, body: str, *, status: int = 200, refresh: int | None = None) -> HTMLResponse:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    doc = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
           f"{meta}<title>{html.escape(title)}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>")
    return HTMLResponse(doc, status_code=status, headers=HEADERS)


@router.get("/c/{link}", response_class=HTMLResponse, include_in_schema=False)
def card_page(link: str, request: Request, lang: Annotated[str | None, Query(max_length=8)] = None,
              accept_language: Annotated[str | None, Header(max_length=500)] = None) -> HTMLResponse:
    # Read only: a link this shop made means its secret exists (digital_card.ensure_secret at start-up).
    with request.app.state.engine.connect() as conn:
        language = choose_language(lang, accept_language, shop.get(conn, "languages") or ["en"])
        name = html.escape(shop.get(conn, "public_name") or "")
        text = {key: html.escape(texts[language]) for key, texts in TEXTS.items()}
        number = digital_card.number_for_link(conn, link)
        state = conn.execute(select(cards.c.state).where(cards.c.number == number)).scalar() if number else None
        if state is None:
            return _page(language, name, f'<h1>{name}</h1><p class="alert">{text["not_found"]}</p>', status=404)
        head = f'<h1>{name}</h1><p class="kind">{text["card"]}</p><p class="number">{html.escape(number)}</p>'
        if state == "blocked":  # no token: a blocked card must not be usable from a phone either
            return _page(language, name, f'{head}<p class="alert">{text["blocked"]}</p>')
        token, _expires = digital_card.qr_token(conn, number, clock.now())
        lifetime = digital_card.lifetime_seconds(conn)
    # Reload a minute before the token runs out (half-way for very short lifetimes), so the QR shown is valid.
    refresh = max(lifetime // 2, lifetime - 60)
    body = (f'{head}<div class="qr">{qr_svg(digital_card.QR_PREFIX + token)}</div><p>{text["show"]}</p>'
            f'<p class="small">{text["renews"]}</p>')
    return _page(language, name, body, refresh=refresh)
