"""The back office's language belongs to the account: chosen on the account page, used at every sign-in,
in a browser that never chose it (another computer, an English browser)."""

from __future__ import annotations

import requests
from sqlalchemy import select

from store_server.data.db import admin_accounts
from tests.admin.conftest import OPERATOR, csrf_of, session, shoot, sign_in


def test_the_language_is_chosen_on_the_account_page_and_follows_the_account(server, db, browser):
    first = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    page = first.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, server, OPERATOR)
        page.click("details.account summary")
        page.click("text=Your account")
        page.select_option("select[name=lang]", "uk")
        page.click("text=Save language")
        page.wait_for_selector("text=Мову збережено")
        assert page.locator("h1").inner_text() == "Ваш обліковий запис"
        shoot(page, "account-language-uk")
    finally:
        first.close()
    with db.connect() as conn:
        assert conn.execute(select(admin_accounts.c.lang).where(admin_accounts.c.name == OPERATOR)).scalar() == "uk"

    # Another computer: an English browser with no cookie of ours signs in and reads Ukrainian.
    other = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = other.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, server, OPERATOR)
        assert page.locator("html").get_attribute("lang") == "uk"
        assert "Клієнти" in page.locator("nav").text_content()
        # The header's menu, signed in, changes the account's language too.
        page.click("details.lang summary")
        page.click("a[lang=ru]")
        page.wait_for_selector("html[lang=ru]")
    finally:
        other.close()
    with db.connect() as conn:
        assert conn.execute(select(admin_accounts.c.lang).where(admin_accounts.c.name == OPERATOR)).scalar() == "ru"


def test_an_unknown_language_is_refused_and_the_form_needs_its_token(server):
    s = session(server, OPERATOR)
    token = csrf_of(s, f"{server.url}/admin/password")
    r = s.post(f"{server.url}/admin/account/language", data={"csrf": token, "lang": "xx"}, timeout=10)
    # In the account's language (Russian since the test above), whatever this session's browser says.
    assert r.status_code == 400 and "Выберите один из перечисленных языков." in r.text, r.text[-1500:]
    r = s.post(f"{server.url}/admin/account/language", data={"lang": "uk"}, timeout=10, allow_redirects=False)
    assert r.status_code == 403
    assert requests.post(f"{server.url}/admin/account/language", data={"lang": "uk"}, timeout=10,
                         allow_redirects=False).status_code == 303  # not signed in: to the sign-in page
