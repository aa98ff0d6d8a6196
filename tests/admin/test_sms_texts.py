"""SMS templates in the back office: edited in Chromium with the live segment count and the placeholder check,
then a real code request through the device API sends the edited text to a provider faked at the wire."""

from __future__ import annotations

import re
import sqlite3
import time

import pytest
import requests

from kiosk.client import StoreClient
from tests.admin.conftest import OPERATOR, OWNER, add_account, csrf_of, go_to, session, shoot, sign_in
from tests.sms.conftest import running_provider
from tests.support.server import init_demo_server


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with running_provider() as provider:
        server = init_demo_server(tmp_path_factory.mktemp("templates"))
        with server.config_path.open("a", encoding="utf-8") as f:
            f.write(f'\n[otp]\nresend_after_seconds = 1\n'
                    f'\n[[sms.gateways]]\ntype = "generic_http"\nurl = "{provider.url}/send"\n'
                    f'body = {{ to = "{{phone}}", text = "{{text}}" }}\n')
        server.start()
        for name, role in ((OWNER, "owner"), (OPERATOR, "operator")):
            assert add_account(server, name, role).returncode == 0
        server.cli("settings", "set", "languages", '["uk", "en", "ru", "kk", "vi"]')
        try:
            yield server, provider
        finally:
            provider.release.set()
            server.stop()


def code_sms(server, provider, phone: str, lang: str) -> str:
    client = StoreClient(server.url, device_key=server.enrol("entrance")["device_key"], timeout=10)
    provider.reply(200, {"ok": True})
    before = len(provider.requests)
    client.request_code(phone, "register", lang=lang)
    deadline = time.monotonic() + 60  # on a loaded machine the answer may come first (sms_pending)
    while len(provider.requests) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(provider.requests) == before + 1
    return provider.requests[-1].json()["text"]


def test_an_edited_template_is_checked_counted_live_and_sent_to_the_next_customer(shop, page):
    server, provider = shop
    sign_in(page, server)
    go_to(page, "SMS texts")
    page.wait_for_selector("#templates")
    shoot(page, "sms-texts")
    page.click("#t-code_register-en")
    page.wait_for_selector("#template-form")
    area = page.locator("#template-form textarea")

    # An unknown placeholder and a missing one are refused with a clear message, live and on saving.
    area.fill("{shop}: code {code} for {customer}")
    page.wait_for_selector("#problem:has-text('{customer}')")
    assert "may use" in page.inner_text("#problem")
    area.fill("{shop}: welcome, type the code on the screen")
    page.wait_for_selector("#problem:has-text('must contain {code}')")
    page.click("#template-form button[type=submit]")
    assert "must contain {code}" in page.inner_text("#problem")

    # The live count: one GSM-7 part, then two with a warning.
    area.fill("{shop}: code {code}")
    page.wait_for_selector("#count[data-parts='1']")
    assert "GSM-7" in page.inner_text("#count")
    assert page.is_hidden("#costly")
    area.fill("{shop}: code {code} " + "x" * 150)
    page.wait_for_selector("#count[data-parts='2']")
    assert page.is_visible("#costly")
    area.fill("{shop}: код {code} - введіть його на екрані кіоску, щоб приєднатися до програми")
    page.wait_for_selector("#count:has-text('UCS-2')")
    assert page.get_attribute("#count", "data-parts") == "2" and page.is_visible("#costly")
    shoot(page, "sms-text-two-parts")

    # Saved: the next code request through the device API sends it, with the shop's English name.
    area.fill("{shop}: your club code is {code}. Type it on the kiosk")
    page.wait_for_selector("#count[data-parts='1']")
    page.click("#template-form button[type=submit]")
    page.wait_for_selector(".notice.ok")
    page.goto(f"{server.url}/admin/templates")
    page.fill("input[name=name_en]", "Kava Club")
    page.click("#public-names button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert page.locator("#t-code_register-en + .tag").count() == 1
    text = code_sms(server, provider, "+380501110001", "en")
    assert re.fullmatch(r"Kava Club: your club code is \d{6}\. Type it on the kiosk", text), text
    # Other languages keep the built-in text and the shop's public name.
    assert code_sms(server, provider, "+380501110002", "uk").startswith("Demo Shop: код ")

    # Restored: the built-in text goes out again.
    page.goto(f"{server.url}/admin/templates/code_register/en")
    page.click("text=Restore the built-in text")
    page.wait_for_selector(".notice.ok")
    assert "enter it on the kiosk screen" in code_sms(server, provider, "+380501110003", "en")

    db = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)
    try:
        actions = [r[0] for r in db.execute("select action from admin_audit where account = ? order by id", [OWNER])]
        parts = db.execute("select segments from sms_log where phone = '+380501110002'").fetchone()[0]
    finally:
        db.close()
    assert {"sms_text_edited", "public_names_edited", "sms_text_restored"} <= set(actions)
    assert parts == 1


def test_an_operator_reads_the_texts_but_cannot_change_them(shop):
    server, _provider = shop
    s = session(server, OPERATOR)
    r = s.get(f"{server.url}/admin/templates/welcome/uk", timeout=5)
    assert r.status_code == 200 and "readonly" in r.text
    csrf = csrf_of(s, f"{server.url}/admin/templates/welcome/uk")
    r = s.post(f"{server.url}/admin/templates/welcome/uk", data={"csrf": csrf, "text": "{shop}: {card}"}, timeout=5)
    assert r.status_code == 403
    r = s.post(f"{server.url}/admin/templates/no_such/uk", data={"csrf": csrf, "text": "x"}, timeout=5)
    assert r.status_code in (403, 404)


def test_the_page_speaks_the_readers_language(shop, browser):
    server, _provider = shop
    context = browser.new_context(viewport={"width": 800, "height": 1280}, locale="uk-UA")
    pg = context.new_page()
    try:
        sign_in(pg, server)
        pg.goto(f"{server.url}/admin/templates/notice_sale/kk")
        pg.wait_for_selector("#template-form")
        assert "Тексти SMS" in pg.text_content("nav")
        assert "частин" in pg.inner_text("#count")
        shoot(pg, "sms-text-uk")
    finally:
        context.close()
    r = requests.get(f"{server.url}/admin/static/templates.js", timeout=5)
    assert r.status_code == 200 and "fetch(" in r.text
