"""Rules and tiers in the back office, in Debian's Chromium against a real server: a rule created and
previewed, then a sale through the device API books what the preview said; disabled, it stops earning."""

from __future__ import annotations

from datetime import datetime

import requests
from babel.dates import format_datetime
from playwright.sync_api import expect
from sqlalchemy import select

from loyalty_common.money import format_money
from store_server import clock
from store_server.data.db import admin_audit, rule_history

from .conftest import Till, csrf_of, session, shoot, sign_in

CARD = "10042"


def money(minor: int) -> str:
    return format_money(minor, "UAH", "en", "UA")


def preview_at_till(till: Till, number: str, amount: int) -> dict:
    r = requests.post(f"{till.server.url}/api/v1/receipts:preview", headers=till.headers, timeout=10,
                      json={"card_number": number, "amount": amount})
    r.raise_for_status()
    return r.json()


def kiosk_sale(server, tmp_path, number: str, typed: str) -> tuple[int, int]:
    """A sale at a till as the kiosk makes it: its SaleFlow's preview, Confirm, the outbox synced; returns the
    accrual the till showed and the one the server booked."""
    from kiosk.backend import Backend
    from kiosk.client import StoreClient
    from kiosk.flows.sale import SaleFlow, SaleState
    from kiosk.store import LocalStore
    from kiosk.sync import SyncWorker

    enrolled = server.enrol("cashier", name="Kiosk till")
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "till.db")
    store.set_setting("shop_config", client.config())
    backend = Backend(store, client, SyncWorker(store, client))
    flow = SaleFlow(backend, client.card(number))
    for ch in typed:
        flow.press(ch)
    assert flow.preview() is SaleState.PREVIEW and not flow.offline, flow.error
    shown = flow.accrual
    assert flow.confirm() is SaleState.DONE, flow.error
    backend.sync.drain()
    assert flow.settle() and flow.outcome.status == "done", flow.outcome
    return shown, flow.outcome.result["accrued"]


def test_a_rule_created_and_previewed_books_what_the_preview_said(server, db, page, tmp_path):
    till = Till(server)
    sign_in(page, server)
    page.goto(f"{server.url}/admin/rules")
    # The demo shop's 10 % rule: a receipt of 250.00 now earns 25.00.
    page.fill("#preview input[name=amount]", "250")
    expect(page.locator("#preview-earned")).to_have_text(money(2_500))
    page.click("#new-rule summary")
    page.fill("#new-rule input[name=name]", "Double week")
    page.fill("#new-rule input[name=value]", "5")
    page.click("#new-rule button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert "Double week" in page.inner_text("#rules")
    # Live: typing another amount changes the figure without submitting (live.js).
    page.fill("#preview input[name=amount]", "1")
    expect(page.locator("#preview-earned")).to_have_text(money(15))
    page.fill("#preview input[name=amount]", "250")
    expect(page.locator("#preview-earned")).to_have_text(money(3_750))
    said = page.inner_text("#preview-out")
    assert "Double week" in said and "10% back" in said
    shoot(page, "rules")

    # The till's own flow (kiosk/flows/sale.py) through its outbox: its preview and its booking say 37.50.
    preview, booked = kiosk_sale(server, tmp_path, CARD, "250")
    assert preview == booked == 3_750  # what the page said
    assert preview_at_till(till, CARD, 25_000)["accrued"] == 3_750

    # Disabled, it stops earning at once.
    page.click("#rules tr:has-text('Double week') button:has-text('Disable')")
    page.wait_for_selector(".notice.ok")
    assert "disabled" in page.inner_text("#rules tr:has-text('Double week')")
    page.fill("#preview input[name=amount]", "250")
    expect(page.locator("#preview-earned")).to_have_text(money(2_500))
    assert till.sale(CARD, 25_000)["result"]["accrued"] == 2_500

    # Edited and enabled again: the history keeps every version with who saved it.
    page.click("#rules tr:has-text('Double week') a:has-text('Edit')")
    page.fill("form.rule-form input[name=value]", "2.5")
    page.click("form.rule-form button[type=submit]")
    page.wait_for_selector(".notice.ok")
    page.click("#rules tr:has-text('Double week') button:has-text('Enable')")
    page.wait_for_selector(".notice.ok")
    assert till.sale(CARD, 10_000)["result"]["accrued"] == 1_250
    page.click("#rules tr:has-text('Double week') a:has-text('Edit')")
    history = page.inner_text("#history")
    assert history.count("olga") == 4 and "2.5% of the money paid" in history and "disabled" in history
    shoot(page, "rule-edit")
    with db.connect() as conn:
        actions = conn.execute(select(admin_audit.c.action).where(admin_audit.c.action.like("rule_%"))).scalars()
        assert list(actions) == ["rule_created", "rule_disabled", "rule_edited", "rule_enabled"]
    # The audit trail says the percent as the owner typed it, not the ledger's hundredths of a percent.
    page.goto(f"{server.url}/admin/audit")
    details = page.inner_text("#audit")
    assert "value: 5%" in details and "value: 2.5%" in details and "value: 500" not in details, details


def test_an_alone_rule_and_a_tier_show_in_the_preview_and_the_overlap_warning(server, page):
    sign_in(page, server)
    page.goto(f"{server.url}/admin/rules")
    page.fill("form[action='/admin/tiers'] input[name=name]", "Gold")
    page.fill("form[action='/admin/tiers'] input[name=min_turnover]", "0")
    page.fill("form[action='/admin/tiers'] input[name=percent]", "3")
    page.click("form[action='/admin/tiers'] button[type=submit]")
    page.wait_for_selector(".notice.ok")
    page.click("#new-rule summary")
    page.fill("#new-rule input[name=name]", "Happy Monday")
    page.fill("#new-rule input[name=value]", "20")
    page.fill("#new-rule input[name=priority]", "0")
    page.uncheck("#new-rule input[name=combine]")
    for day in "234567":
        page.uncheck(f"#new-rule input[name=weekdays][value='{day}']")
    page.fill("#new-rule input[name=time_from]", "09:00")
    page.fill("#new-rule input[name=time_to]", "11:00")
    page.click("#new-rule button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert "Happy Monday" in page.inner_text("#overlaps")
    # Monday 2026-11-30 at 10:00 in the shop's time: the alone rule (20 %) plus the tier (3 %) of 100.00.
    page.goto(f"{server.url}/admin/rules?amount=100&at=2026-11-30T10:00&card_type=standard&tier=Gold#preview")
    assert page.inner_text("#preview-earned") == money(2_300)
    assert page.inner_text("#preview-result").count(money(2_300)) == 1  # the amount earned is said once, in bold
    lang = page.locator("html").get_attribute("lang")  # the time as the reader's language writes it, not ISO
    assert format_datetime(datetime(2026, 11, 30, 10, 0), "short", locale=lang) in page.inner_text("#preview-result")
    assert "Happy Monday" in page.inner_text("#preview-out") and "10% back" not in page.inner_text("#preview-out")
    page.goto(f"{server.url}/admin/rules?amount=100&at=2026-11-30T11:00&card_type=standard&tier=#preview")
    assert "Happy Monday" not in page.inner_text("#preview-out")  # 11:00 is outside its window
    shoot(page, "rules-overlap")
    page.click("#rules tr:has-text('Happy Monday') button:has-text('Delete')")
    page.wait_for_selector(".notice.ok")
    assert "Happy Monday" not in page.inner_text("#rules")
    assert "Happy Monday" in page.text_content("#deleted-rules")


def test_an_operator_sees_the_rules_but_cannot_change_them(server, db):
    s = session(server, "petro")
    page = s.get(f"{server.url}/admin/rules", timeout=10)
    assert page.status_code == 200 and "10% back" in page.text
    assert 'action="/admin/rules"' not in page.text and "/disable" not in page.text
    csrf = csrf_of(s, f"{server.url}/admin/rules")
    with db.connect() as conn:
        before = conn.execute(select(rule_history.c.id)).all()
    for url, data in (("/admin/rules", {"name": "sneaky", "kind": "percent", "value": "50", "combine": "on"}),
                      ("/admin/rules/1/disable", {}), ("/admin/rules/1/delete", {}),
                      ("/admin/tiers", {"name": "x", "min_turnover": "0", "percent": "50"})):
        r = s.post(f"{server.url}{url}", data={"csrf": csrf, **data}, timeout=10, allow_redirects=False)
        assert r.status_code == 403 and "Only the shop owner" in r.text, url
    with db.connect() as conn:
        assert conn.execute(select(rule_history.c.id)).all() == before


def test_bad_rule_input_is_refused_with_what_is_wrong_and_the_form_kept(server, page):
    sign_in(page, server)
    page.goto(f"{server.url}/admin/rules")
    page.click("#new-rule summary")
    page.fill("#new-rule input[name=name]", "Late")
    page.fill("#new-rule input[name=value]", "150")
    page.click("#new-rule button[type=submit]")
    assert "Enter a percent from 0 to 100" in page.inner_text(".notice.error")
    assert page.input_value("#new-rule input[name=name]") == "Late"
    page.fill("#new-rule input[name=value]", "5")
    page.fill("#new-rule input[name=valid_from]", "2026-12-31")
    page.fill("#new-rule input[name=valid_to]", "2026-12-01")
    page.click("#new-rule button[type=submit]")
    assert "ends before it starts" in page.inner_text(".notice.error")


def test_a_rule_for_one_shop_previews_and_books_there_only(server, page):
    """Last in this file: after it the demo server has two shops, and a till must name its shop."""
    import requests as http

    server.cli("shops", "add", "ALA1", "--name", "Almaty", "--timezone", "Asia/Almaty", "--country", "KZ")
    almaty = server.enrol("cashier", name="Almaty till", shop="ALA1")
    headers = {"Authorization": f"Bearer {almaty['device_key']}"}
    sign_in(page, server)
    page.goto(f"{server.url}/admin/rules")
    page.click("#new-rule summary")
    page.fill("#new-rule input[name=name]", "Almaty opening")
    page.fill("#new-rule input[name=value]", "7")
    page.check("#new-rule input[name=shops][value=ALA1]")
    page.click("#new-rule button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert "in ALA1" in page.inner_text("#rules tr:has-text('Almaty opening')")
    page.select_option("#preview select[name=shop]", "")
    expect(page.locator("#preview-out")).not_to_contain_text("Almaty opening")
    r = http.post(f"{server.url}/api/v1/operations:batch", headers=headers, timeout=10, json={"operations": [{
        "id": "almaty-sale-1", "type": "sale", "at": clock.now().isoformat(),
        "payload": {"card_number": "10077", "amount": 10_000}}]})
    booked = r.json()["results"][0]["result"]
    # The preview for that shop, and the tier the sale found the customer in, says what the sale booked.
    page.select_option("#preview select[name=shop]", "ALA1")
    page.select_option("#preview select[name=tier]", booked["tier"] or "")
    page.fill("#preview input[name=amount]", "100")
    expect(page.locator("#preview-out")).to_contain_text("Almaty opening")
    expect(page.locator("#preview-earned")).to_have_text(money(booked["accrued"]))
    shoot(page, "rules-shops")
