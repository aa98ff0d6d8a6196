"""The settings form in Debian's Chromium against a real server: every setting of settings_schema.py, changes
audited and reaching the devices' GET /config and heartbeat; bad values refused all together; owner only."""

from __future__ import annotations

import requests
from sqlalchemy import select

from store_server import settings_schema
from store_server.admin.setting_words import DESCRIPTIONS, GROUPS
from store_server.data.db import admin_audit, settings

from .conftest import csrf_of, session, shoot, sign_in


def device(server, shop: str | None = None) -> dict:
    enrolled = server.enrol("cashier", name="Till settings", shop=shop)
    return {"Authorization": f"Bearer {enrolled['device_key']}"}


def config(server, headers: dict) -> dict:
    r = requests.get(f"{server.url}/api/v1/config", headers=headers, timeout=10)
    r.raise_for_status()
    return r.json()


def heartbeat(server, headers: dict) -> dict:
    r = requests.post(f"{server.url}/api/v1/devices/heartbeat", headers=headers, timeout=10,
                      json={"app_version": "test", "outbox_pending": 0})
    r.raise_for_status()
    return r.json()


def test_every_setting_has_its_description_for_translation():
    assert set(DESCRIPTIONS) == {s.key for s in settings_schema.SETTINGS}
    assert all(DESCRIPTIONS[s.key] == s.description for s in settings_schema.SETTINGS), \
        "store_server/admin/setting_words.py repeats each description of settings_schema.py word for word"
    assert set(GROUPS) == set(settings_schema.GROUPS)


def test_a_setting_changed_in_the_form_reaches_the_devices(server, db, page):
    till = device(server)
    assert config(server, till)["no_code_limit"] == 0
    sign_in(page, server)
    page.goto(f"{server.url}/admin/settings")
    for s in settings_schema.SETTINGS:  # every setting has its field
        assert page.locator(f"[name='v.{s.key}']").count() == 1, s.key
    assert "bonuses (minor units) that may be spent without a code" in page.inner_text("#setting-no_code_limit")
    shoot(page, "settings")
    page.fill("[name='v.no_code_limit']", "700")
    page.select_option("[name='v.identify_code_required']", "no")
    page.click("#settings button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert page.input_value("[name='v.no_code_limit']") == "700"
    seen = config(server, till)
    assert seen["no_code_limit"] == 700 and seen["identify_code_required"] is False
    assert heartbeat(server, till)["no_code_limit"] == 700
    with db.connect() as conn:
        changes = conn.execute(select(admin_audit.c.target, admin_audit.c.details, admin_audit.c.account)
                               .where(admin_audit.c.action == "setting_changed")).all()
    assert {(t, d["old"], d["new"], a) for t, d, a in changes} == {
        ("no_code_limit", "0", "700", "olga"), ("identify_code_required", "yes", "no", "olga")}
    # Back to the default: the stored value goes and the devices see the default again.
    page.check("#setting-no_code_limit input[name='reset.no_code_limit']")
    page.click("#settings button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert config(server, till)["no_code_limit"] == 0
    with db.connect() as conn:
        assert conn.execute(select(settings.c.value).where(settings.c.key == "no_code_limit")).first() is None


def test_bad_values_are_refused_together_and_nothing_is_saved(server, db, page):
    sign_in(page, server)
    page.goto(f"{server.url}/admin/settings")
    page.fill("[name='v.return_days']", "7")
    page.fill("[name='v.languages']", "uk,de")
    page.fill("[name='v.owner_phone']", "call me")
    page.click("#settings button[type=submit]")
    assert "not saved" in page.inner_text(".notice.error")
    assert "'vi' (at item 2)" in page.inner_text("#setting-languages .problem")
    assert "phone" in page.inner_text("#setting-owner_phone .problem")
    assert page.input_value("[name='v.languages']") == "uk,de"  # what was typed stays to be corrected
    assert page.locator("#setting-return_days .problem").count() == 0
    shoot(page, "settings-refused")
    with db.connect() as conn:
        assert conn.execute(select(settings.c.value).where(settings.c.key == "return_days")).first() is None


def test_the_form_in_ukrainian(server, page):
    sign_in(page, server)
    page.goto(f"{server.url}/admin/lang/uk?next=/admin/settings")
    page.wait_for_selector("#settings")
    text = page.inner_text("#setting-no_code_limit")
    assert "бонус" in text.lower() and "bonuses (minor units)" not in text
    default = page.inner_text("#setting-identify_code_required small")  # a yes/no default as its select says it
    assert "так" in default and "yes" not in default, default
    shoot(page, "settings-uk")


def test_a_shops_own_setting_reaches_that_shops_devices_only(server, page):
    server.cli("shops", "add", "ALA1", "--name", "Almaty", "--timezone", "Asia/Almaty", "--country", "KZ")
    main, almaty = device(server, "main"), device(server, "ALA1")
    sign_in(page, server)
    page.goto(f"{server.url}/admin/settings?shop_code=ALA1")
    assert page.locator("[name='v.next_digital_card']").count() == 0  # the chain's only
    page.uncheck("#setting-languages input[name='reset.languages']")
    page.fill("[name='v.languages']", "kk,ru")
    page.click("#settings button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert config(server, almaty)["languages"] == ["kk", "ru"]
    assert config(server, main)["languages"] == settings_schema.DEFAULTS["languages"]
    shoot(page, "settings-shop")


def test_an_operator_may_not_see_or_change_the_settings(server):
    s = session(server, "petro")
    assert s.get(f"{server.url}/admin/settings", timeout=10).status_code == 403
    owner = session(server)
    csrf = csrf_of(s, f"{server.url}/admin/customers")
    r = s.post(f"{server.url}/admin/settings", data={"csrf": csrf, "v.no_code_limit": "999"}, timeout=10)
    assert r.status_code == 403
    assert "999" not in owner.get(f"{server.url}/admin/settings", timeout=10).text


def test_every_type_word_is_known_to_the_translation():
    from store_server.admin.setting_words import type_words

    for s in settings_schema.SETTINGS:
        words = type_words(settings_schema.describe_type(s), lambda w: "«»")
        # every word left is a listed choice (typed as it is), never an untranslated English word
        assert not set(words.replace("|", " ").split()) & {"of", "list", "or", "none", "number", "text"}, words
