"""Card types and ranges in Debian's Chromium against a real server: a range issued with EAN-13 numbers and
activation codes, exported for the card printer, its numbers scanning as ours; counts by state; owner only."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from drivers.scanner.decode import CardNumber, CardRules, decode
from store_server import cards
from store_server.data.db import admin_audit, card_ranges

from .conftest import Till, csrf_of, session, shoot, sign_in


def test_a_range_issued_and_exported_scans_as_ours(server, db, page):
    till = Till(server, name="Till cards")
    sign_in(page, server)
    page.goto(f"{server.url}/admin/card-types")
    page.fill("#new-type input[name=name]", "gold")
    page.select_option("#new-type select[name=kind]", "discount")
    page.fill("#new-type input[name=discount]", "5")
    page.click("#new-type button[type=submit]")
    page.wait_for_selector(".notice.ok")
    page.select_option("#issue-range select[name=card_type]", "gold")
    page.fill("#issue-range input[name=first]", "1")
    page.fill("#issue-range input[name=last]", "12")
    page.check("#issue-range input[name=ean13]")
    page.fill("#issue-range input[name=ean13_prefix]", "4820")
    page.check("#issue-range input[name=codes]")
    page.click("#issue-range button[type=submit]")
    page.wait_for_selector(".notice.ok")
    row = page.inner_text("#card-ranges tbody tr:first-child")
    assert "12 cards" in row and "gold" in row and "EAN-13" in row and "activation codes" in row
    with page.expect_download() as info:
        page.click("#card-ranges tbody tr:first-child button:has-text('CSV for the card printer')")
    text = open(info.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 12 and list(rows[0]) == ["card_number", "barcode", "barcode_type", "activation_code"]
    for r in rows:
        assert cards.is_ean13(r["card_number"]) and r["card_number"].startswith("4820")
        assert r["barcode"] == r["card_number"] and r["barcode_type"] == "EAN-13"
        assert len(r["activation_code"]) == 8 and r["activation_code"].isdigit()
        scanned = decode(r["barcode"], CardRules())  # what the kiosk's scanner makes of the printed barcode
        assert isinstance(scanned, CardNumber) and scanned.number == r["card_number"]
    card = till.card(rows[0]["card_number"])  # ours: the server knows it
    assert card["card_type"] == "gold" and card["kind"] == "discount" and card["activation"] == "code"

    # Counts by state follow the cards: one blocked.
    server.cli("cards", "block", rows[1]["card_number"])
    page.goto(f"{server.url}/admin/card-types")
    gold = page.inner_text("#type-gold")
    assert "11" in gold and "1" in gold.split("11", 1)[1]
    cells = page.locator("#card-ranges tbody tr:first-child td.num").all_inner_texts()
    assert cells == ["11", "0", "1", "0"]  # not activated, active, blocked, replaced
    shoot(page, "card-types")
    with db.connect() as conn:
        assert conn.execute(select(card_ranges.c.by).where(card_ranges.c.card_type == "gold")).scalar() == "olga"
        actions = set(conn.execute(select(admin_audit.c.action)).scalars())
    assert {"card_type_created", "range_issued", "range_exported"} <= actions
    # The audit page says it as an owner reads it: yes/no, not Python's True/False, and no "None" for what is unset.
    page.goto(f"{server.url}/admin/audit")
    audit = page.inner_text("#audit")
    assert "activation codes: yes" in audit and "card type: gold" in audit  # the details' names in words
    assert "(shell)" not in audit and "command line" in audit  # the accounts made by `admin add`
    assert page.locator("#audit a[href='/admin/cards/gold']").count() == 0  # a card type is no card to open
    page.set_viewport_size({"width": 800, "height": 900})  # at a tablet's width a time stays on one line
    heights = page.locator("#audit tbody td.nowrap").evaluate_all(
        "cells => cells.map(c => { const r = document.createRange(); r.selectNodeContents(c);"
        " return r.getClientRects().length; })")
    assert heights and set(heights) == {1}, heights
    assert not re.search(r": (None|True|False)\b", audit), audit


def test_bad_ranges_and_types_are_refused_and_nothing_is_issued(server, db, page):
    sign_in(page, server)
    page.goto(f"{server.url}/admin/card-types")
    page.fill("#issue-range input[name=first]", "500")
    page.fill("#issue-range input[name=last]", "400")
    page.click("#issue-range button[type=submit]")
    assert "range does not fit" in page.inner_text(".notice.error")
    assert page.input_value("#issue-range input[name=first]") == "500"
    page.fill("#issue-range input[name=first]", "10001")
    page.fill("#issue-range input[name=last]", "10005")  # the demo's cards exist already
    page.click("#issue-range button[type=submit]")
    assert "nothing was issued" in page.inner_text(".notice.error")
    with db.connect() as conn:
        assert conn.execute(select(card_ranges.c.id).where(card_ranges.c.first == 500)).first() is None


def test_an_operator_sees_the_counts_but_cannot_issue_or_export(server):
    s = session(server, "petro")
    page = s.get(f"{server.url}/admin/card-types", timeout=10)
    assert page.status_code == 200 and "card-types" in page.text and "/export" not in page.text
    csrf = csrf_of(s, f"{server.url}/admin/card-types")
    for url, data in (("/admin/card-ranges", {"first": "90001", "last": "90002"}),
                      ("/admin/card-types", {"name": "x", "kind": "bonus"}),
                      ("/admin/card-ranges/1/export", {})):
        r = s.post(f"{server.url}{url}", data={"csrf": csrf, **data}, timeout=10, allow_redirects=False)
        assert r.status_code == 403, url
