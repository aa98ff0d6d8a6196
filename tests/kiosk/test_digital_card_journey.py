"""A new customer's digital card end to end, against a real store server process and its SQLite file: the kiosk's
registration gets the card's link, the welcome SMS carries it, the phone opens the page (in the customer's
language) and the page's QR, scanned at a kiosk, identifies the card; expired, forged and offline scans say why."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import qrcode
import requests

from drivers.scanner.base import Scan
from kiosk import i18n
from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.identify import IdentifyFlow, IdentifyState
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.messages import message
from kiosk.store import LocalStore
from store_server import cards, digital_card, shop
from store_server.data.db import make_engine
from tests.kiosk.test_till_against_server import device, type_in
from tests.support.server import free_port, init_demo_server

PHONE = "+380671230077"
PAGE_WORDS = {"en": "Show this QR code at the till", "uk": "Покажіть цей QR-код", "ru": "Покажите этот QR-код",
              "kk": "Бұл QR-кодты кассада", "vi": "Đưa mã QR này cho thu ngân"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("digital-card")).start()
    srv.cli("settings", "set", "public_name", "Kavun")
    srv.cli("settings", "set", "languages", json.dumps(["uk", "en", "ru", "kk", "vi"]))
    srv.cli("settings", "set", "otp", json.dumps({"resend_after_seconds": 1, "sends_per_phone_15min": 50}))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def db(server):
    engine = make_engine(f"sqlite:///{server.database}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def entrance(server, tmp_path_factory):
    return device(server, tmp_path_factory.mktemp("entrance"), "entrance", "entrance")


@pytest.fixture(scope="module")
def joined(server, entrance):
    """A customer without a card joins at the kiosk: the flow that drew the done screen, and the welcome SMS."""
    flow = RegisterFlow(entrance)
    type_in(flow, PHONE)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    type_in(flow, server.last_code(PHONE))
    assert flow.submit_code() is RegisterState.DONE, flow.error
    entrance.sync.drain()
    return flow, server.last_sms(PHONE)["text"]


def page(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=5, **kw)


def dark_modules(svg: str) -> set[tuple[int, int]]:
    # qrcode's SVG path draws each dark module as its own unit square "Mx,yH..V..H..z"
    return {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", svg)}


def qr_modules(payload: str) -> set[tuple[int, int]]:
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(payload)
    return {(x, y) for y, row in enumerate(qr.get_matrix()) for x, dark in enumerate(row) if dark}


def token_on_page(db, number: str, svg: str, asked_at: float) -> str:
    """Which token the page's QR carries: the server's token for this card made at the time of the request
    (matched module for module against what qrcode draws for `lk://card/<token>`)."""
    shown = dark_modules(svg)
    for second in range(int(asked_at) - 1, int(time.time()) + 2):
        with db.connect() as conn:
            token, _ = digital_card.qr_token(conn, number, datetime.fromtimestamp(second, UTC))
        if qr_modules(digital_card.QR_PREFIX + token) == shown:
            return token
    raise AssertionError("the page's QR is not a token of this card")


def test_the_kiosk_gets_the_cards_link_and_the_done_screen_encodes_it(server, joined):
    flow, _welcome = joined
    assert flow.card_number and flow.card_number.startswith("9")
    assert flow.card_link and flow.card_link.startswith(f"{server.url}/c/")
    assert flow.card_number not in flow.card_link  # the link does not show the number


def test_the_welcome_sms_carries_the_link_and_how_to_opt_out(joined):
    flow, welcome = joined
    assert flow.card_link in welcome.split() and flow.card_number in welcome and "STOP" in welcome
    # Ukrainian (UCS-2, 67 characters a part): two parts, like the welcome without a link
    assert len(welcome) <= 2 * 67, welcome


@pytest.mark.parametrize("lang", ["en", "uk", "ru", "kk", "vi"])
def test_the_page_speaks_the_customers_language_and_its_qr_identifies_the_card(server, db, joined, entrance, lang):
    flow, _ = joined
    asked = time.time()
    by_header = page(flow.card_link, headers={"Accept-Language": f"{lang}-XX;q=0.9, de;q=1.0"})
    by_query = page(f"{flow.card_link}?lang={lang}", headers={"Accept-Language": "en"})
    for r in (by_header, by_query):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert PAGE_WORDS[lang] in r.text and "Kavun" in r.text and flow.card_number in r.text
        assert f'lang="{lang}"' in r.text
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        assert "+380" not in r.text and "balance" not in r.text.lower()  # nothing a forwarded SMS should leak
    refresh = int(re.search(r'http-equiv="refresh" content="(\d+)"', by_header.text).group(1))
    assert 0 < refresh < 600  # reloaded before the token runs out
    svg = by_header.text[by_header.text.index("<svg"):by_header.text.index("</svg>") + 6]
    token = token_on_page(db, flow.card_number, svg, asked)
    scan = IdentifyFlow(entrance)
    assert scan.on_scan(Scan(digital_card.QR_PREFIX + token, "test")) is IdentifyState.CARD, scan.error
    assert scan.card["number"] == flow.card_number and scan.card["state"] == "active"


def test_an_expired_card_qr_says_refresh_it_on_the_phone(server, db, joined, entrance):
    flow, _ = joined
    with db.connect() as conn:
        token, _ = digital_card.qr_token(conn, flow.card_number, datetime.now(UTC) - timedelta(minutes=11))
    r = requests.get(f"{server.url}/api/v1/cards/{token}", timeout=5,
                     headers={"Authorization": f"Bearer {entrance.client.device_key}"})
    assert (r.status_code, r.json()["error"]) == (400, "card_qr_expired")
    scan = IdentifyFlow(entrance)
    assert scan.on_scan(Scan(digital_card.QR_PREFIX + token, "test")) is IdentifyState.ERROR
    assert scan.error == "card_qr_expired"
    i18n.set_language("uk")
    try:
        assert "Оновіть сторінку картки" in message(scan.error)
    finally:
        i18n.set_language("en")


def test_a_forged_card_qr_is_refused(db, joined, entrance):
    flow, _ = joined
    with db.connect() as conn:
        token, _ = digital_card.qr_token(conn, flow.card_number, datetime.now(UTC))
    body, mac = token.split(".")
    forged = f"{body}.{mac[::-1]}"
    scan = IdentifyFlow(entrance)
    assert scan.on_scan(Scan(digital_card.QR_PREFIX + forged, "test")) is IdentifyState.ERROR
    assert scan.error == "card_qr_invalid"


def test_offline_a_card_qr_cannot_be_checked_and_nothing_is_queued(db, joined, tmp_path):
    flow, _ = joined
    with db.connect() as conn:
        token, _ = digital_card.qr_token(conn, flow.card_number, datetime.now(UTC))
    store = LocalStore(tmp_path / "offline.db")
    store.cache_card({"number": flow.card_number, "state": "active", "balance": 0})  # even a cached card
    offline = Backend(store, StoreClient(f"http://127.0.0.1:{free_port()}", device_key="k", timeout=1))
    scan = IdentifyFlow(offline)
    assert scan.on_scan(Scan(digital_card.QR_PREFIX + token, "test")) is IdentifyState.ERROR
    assert scan.error == "card_qr_offline" and "card number" in message(scan.error)
    assert store.pending() == [] and store.counts().get("pending", 0) == 0
    # the number typed instead is an ordinary card number: the cache answers
    assert scan.lookup(flow.card_number) is IdentifyState.CARD and scan.view.from_cache


def test_the_old_qr_of_a_plain_card_number_still_identifies_it(entrance):
    scan = IdentifyFlow(entrance)
    assert scan.on_scan(Scan("lk://card/10001", "test")) is IdentifyState.CARD
    assert scan.card["number"] == "10001"


def test_a_blocked_cards_page_says_so_and_shows_no_qr(server, db):
    with db.begin() as conn:
        cards.set_state(conn, "10007", "blocked")
        link = digital_card.card_link(conn, "10007")
    r = page(f"{link}?lang=en")
    assert r.status_code == 200 and "This card is blocked" in r.text and "10007" in r.text
    assert "<svg" not in r.text and "refresh" not in r.text


def test_an_unknown_link_is_a_404_page(server):
    r = page(f"{server.url}/c/AAAAAAAAAAAAAAAAAAAAAAAAAA", headers={"Accept-Language": "ru"})
    assert r.status_code == 404 and "Ссылка на карту недействительна" in r.text and "<svg" not in r.text


def test_without_a_public_url_no_link_is_given_and_the_welcome_is_as_before(server, db, entrance):
    with db.begin() as conn:
        shop.put(conn, "public_url", None)
    try:
        phone = "+380671230078"
        time.sleep(1.05)  # the resend pause set for this module
        flow = RegisterFlow(entrance)
        type_in(flow, phone)
        flow.toggle_consent()
        assert flow.submit_phone() is RegisterState.CODE, flow.error
        type_in(flow, server.last_code(phone))
        assert flow.submit_code() is RegisterState.DONE, flow.error
        assert flow.card_link is None
        entrance.sync.drain()
        welcome = server.last_sms(phone)["text"]
        assert "/c/" not in welcome and flow.card_number in welcome and "STOP" in welcome
    finally:
        with db.begin() as conn:
            shop.put(conn, "public_url", server.url)
