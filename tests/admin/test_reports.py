"""Dashboard, reports and fraud page in Chromium against a real server: the dashboard's figures are the ledger's
sums (computed here from the tables, not by the report code), a report comes back intact from its CSV and XLSX
export, and a seeded fraud signal leads to its operations."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from datetime import datetime, time, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import func, insert, select

from store_server import clock
from store_server.data.db import cards, customers, ledger, operations, sales, sms_log, transaction_notices
from tests.support.cli import run_cli

from .conftest import OPERATOR, Till, go_to, seed_customer, session, shoot, sign_in

ZONE = ZoneInfo("Europe/Kyiv")  # the demo shop's time zone


def cli(server, *args: str) -> str:
    return run_cli("--config", str(server.config_path), *args, check=True).stdout


def op(type_: str, payload: dict, *, at: datetime | None = None, cashier: str = "Iryna") -> dict:
    return {"id": str(uuid.uuid4()), "type": type_, "at": (at or clock.now()).isoformat(), "cashier": cashier,
            "payload": payload}


@pytest.fixture(scope="module")
def shop(server, db):
    """Known sales, a partial return, a payment with bonuses and an expiry, a few days apart."""
    cli(server, "settings", "set", "code_required", '{"redeem": false, "discount": false, "return": false}')
    for number, phone, name in (("10001", "+380501110001", "Olena"), ("10002", "+380501110002", "Taras"),
                                ("10003", "+380501110003", "Iryna")):
        seed_customer(db, number, phone, name)
    till, other = Till(server, "Front till"), Till(server, "Back till")
    now = clock.now()
    results = till.batch(
        op("sale", {"card_number": "10001", "amount": 30_000}, at=now - timedelta(days=70)),  # expires below
        op("sale", {"card_number": "10002", "amount": 20_000}, at=now - timedelta(days=2)),
        op("sale", {"card_number": "10003", "amount": 80_000}, at=now - timedelta(days=5), cashier="Oksana"),
        op("sale", {"card_number": "10001", "amount": 50_000}),
    )
    assert [r["status"] for r in results] == ["applied"] * 4, results
    paid_with_bonus = other.batch(op("sale", {"card_number": "10002", "amount": 10_000, "bonus_payment": 1_000},
                                     cashier="=HYPERLINK(\"http://x\")"))[0]
    assert paid_with_bonus["status"] == "applied", paid_with_bonus
    # half of Oksana's sale comes back, at her till: a refund counts where (and by whom) it was paid out
    returned = till.batch(op("return", {"sale_id": results[2]["id"], "amount": 40_000}, cashier="Oksana"))[0]
    assert returned["status"] == "applied", returned
    cli(server, "settings", "set", "bonus_expiry_days", "60")
    cli(server, "expire")
    return {"money_refund": returned["result"]["money_refund"]}


def window(days: int) -> tuple[datetime, datetime]:
    today = clock.now().astimezone(ZONE).date()
    start = datetime.combine(today - timedelta(days=days - 1), time(), ZONE)
    return start.astimezone(ZoneInfo("UTC")), datetime.combine(today + timedelta(days=1), time(), ZONE) \
        .astimezone(ZoneInfo("UTC"))


def ledger_sums(db, days: int) -> dict:
    """What the dashboard must show, straight from the tables."""
    start, end = window(days)
    with db.connect() as conn:
        def kind(k: str) -> int:
            return int(conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
                ledger.c.kind == k, ledger.c.at >= start, ledger.c.at < end)).scalar_one())

        receipts = conn.execute(select(func.count()).select_from(operations).where(
            operations.c.type == "sale", operations.c.status == "applied", operations.c.at >= start,
            operations.c.at < end)).scalar_one()
        paid = conn.execute(select(func.coalesce(func.sum(sales.c.paid), 0)).where(
            sales.c.at >= start, sales.c.at < end)).scalar_one()
        per_customer = conn.execute(select(sales.c.customer_id, func.count()).where(
            sales.c.at >= start, sales.c.at < end).group_by(sales.c.customer_id)).all()
        rows = conn.execute(select(ledger.c.card_number, ledger.c.amount, ledger.c.at)).all()
        new = conn.execute(select(func.count()).select_from(customers).where(
            customers.c.created_at >= start, customers.c.created_at < end)).scalar_one()
        activated = conn.execute(select(func.count()).select_from(cards).where(
            cards.c.activated_at >= start, cards.c.activated_at < end)).scalar_one()
        moved = {k: kind(k) for k in ("accrual", "redemption", "expiry")}
    return {"receipts": receipts, "paid": int(paid), "accrued": moved["accrual"], "spent": -moved["redemption"],
            "expired": -moved["expiry"], "liability": sum(int(a) for _c, a, _t in rows),
            "repeat": sum(1 for _c, n in per_customer if n >= 2) / len(per_customer), "rows": rows,
            "new": new, "activated": activated}


def expiring_next_month(rows, expiry_days: int) -> int:
    """Per card, oldest credits first: what the nightly expiry will write off during next month."""
    today = clock.now().astimezone(ZoneInfo("UTC")).date()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    cut = [datetime.combine(d - timedelta(days=expiry_days), time(), ZoneInfo("UTC")) for d in (first, after)]
    total = 0
    for number in {c for c, _a, _t in rows}:
        mine = [(int(a), clock.aware(t)) for c, a, t in rows if c == number]
        balance, debits = sum(a for a, _ in mine), -sum(a for a, _ in mine if a < 0)
        gone = [max(0, min(sum(a for a, t in mine if a > 0 and t < c) - debits, balance)) for c in cut]
        total += gone[1] - gone[0]
    return total


def figure(page, key: str) -> str:
    return page.get_attribute(f"#tile-{key} .figure", "data-value")


def test_the_dashboards_figures_are_the_ledgers_sums(server, db, shop, page):
    sign_in(page, server)
    go_to(page, "Dashboard")
    page.wait_for_selector("#tile-receipts")
    page.click(".periods >> text=30 days")
    page.wait_for_url(re.compile(r".*period=30.*"))
    want = ledger_sums(db, 30)
    assert want["receipts"] == 4 and want["expired"] == 3_000 and want["spent"] == 1_000  # the seed did its part
    assert int(figure(page, "receipts")) == want["receipts"]
    assert int(figure(page, "revenue")) == want["paid"] - shop["money_refund"]
    assert int(figure(page, "accrued")) == want["accrued"]
    assert int(figure(page, "spent")) == want["spent"]
    assert int(figure(page, "expired")) == want["expired"]
    assert int(figure(page, "liability")) == want["liability"]
    assert int(page.get_attribute("#tile-liability .note", "data-expiring")) == expiring_next_month(want["rows"], 60)
    assert int(figure(page, "new_customers")) == want["new"] == 3
    assert int(page.get_attribute("#tile-new_customers .note", "data-activated")) == want["activated"]
    assert float(figure(page, "repeat_rate")) == pytest.approx(want["repeat"])
    # the figure beside each chart is in words too, money in the shop's currency
    assert "₴" in page.inner_text("#tile-revenue .figure") or "UAH" in page.inner_text("#tile-revenue .figure")
    assert "Front till" in page.inner_text("#tile-top_devices") and "Oksana" in page.inner_text("#tile-top_cashiers")
    svg = page.locator("#tile-receipts svg")
    assert svg.get_attribute("role") == "img" and page.locator("#tile-receipts svg title").count() >= 2
    shoot(page, "dashboard")

    page.click(".periods >> text=Today")
    page.wait_for_url(re.compile(r".*period=today.*"))
    today = ledger_sums(db, 1)
    assert int(figure(page, "receipts")) == today["receipts"] == 2
    assert int(figure(page, "expired")) == 3_000
    # a sale arriving now is on the next look (the cache refreshes from what arrived)
    late = Till(server, "Late till")
    late.sale("10003", 10_000)
    page.reload()
    assert int(figure(page, "receipts")) == 3
    assert int(figure(page, "liability")) == ledger_sums(db, 1)["liability"]
    # a till that was offline sends a sale of three days ago: it lands on its own day, not today
    page.click(".periods >> text=7 days")
    page.wait_for_url(re.compile(r".*period=7.*"))
    before = int(figure(page, "receipts"))
    assert late.batch(op("sale", {"card_number": "10002", "amount": 7_000}, at=clock.now() - timedelta(days=3))
                      )[0]["status"] == "applied"
    page.reload()
    assert int(figure(page, "receipts")) == before + 1 == ledger_sums(db, 7)["receipts"]
    assert int(figure(page, "accrued")) == ledger_sums(db, 7)["accrued"]
    page.click(".periods >> text=Today")
    page.wait_for_url(re.compile(r".*period=today.*"))
    assert int(figure(page, "receipts")) == 3


def _read_xlsx(data: bytes) -> list[list]:
    """The first sheet's cells, read with the standard library (no second spreadsheet package to trust)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        strings = [si.findtext(".//m:t", namespaces=ns) or "" for si in
                   ElementTree.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns)] \
            if "xl/sharedStrings.xml" in z.namelist() else []
        styles = ElementTree.fromstring(z.read("xl/styles.xml"))
        quoted = [x.get("quotePrefix") == "1" for x in styles.find("m:cellXfs", ns).findall("m:xf", ns)]
        sheet = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    table = []
    for row in sheet.iter(f"{{{ns['m']}}}row"):
        cells = []
        for c in row.findall("m:c", ns):
            v = c.findtext("m:v", namespaces=ns)
            if c.get("t") == "s":
                text = strings[int(v)]
                cells.append(("'" + text) if quoted[int(c.get("s", 0))] else text)
            elif c.get("t") == "inlineStr":
                cells.append(c.findtext(".//m:t", namespaces=ns))
            else:
                cells.append(float(v) if v is not None else None)
        table.append(cells)
    return table


def test_a_report_exported_as_csv_and_xlsx_reads_back(server, db, shop, page):
    sign_in(page, server)
    go_to(page, "Reports")
    page.select_option("select[name=by]", "cashier")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*by=cashier.*"))
    table = page.inner_text("#report")
    assert "Oksana" in table and "=HYPERLINK" in table
    shoot(page, "report-cashier")
    with page.expect_download() as got:
        page.click("#export-csv")
    rows = list(csv.reader(io.StringIO(open(got.value.path(), encoding="utf-8").read())))
    with page.expect_download() as got:
        page.click("#export-xlsx")
    sheet = _read_xlsx(open(got.value.path(), "rb").read())
    assert rows[0][:3] == ["Cashier", "Receipts", "Revenue (UAH)"] and sheet[0] == rows[0]
    assert len(sheet) == len(rows) > 2
    for csv_row, xlsx_row in zip(rows[1:], sheet[1:], strict=True):
        assert xlsx_row[0] == csv_row[0]  # names, the formula-looking one made text in both
        assert [float(v or 0) for v in csv_row[1:]] == [float(v or 0) for v in xlsx_row[1:]]
    by_name = {r[0]: r for r in rows[1:]}
    assert "'=HYPERLINK(\"http://x\")" in by_name  # neutralised, never a formula
    # the money column in the currency's units: Oksana's 800.00 less the 400.00 returned
    start, end = window(30)
    with db.connect() as conn:
        oksana = conn.execute(select(func.sum(sales.c.paid)).select_from(sales.join(
            operations, operations.c.id == sales.c.operation_id)).where(operations.c.cashier == "Oksana",
                                                                        sales.c.at >= start)).scalar_one()
    assert float(by_name["Oksana"][2]) == (oksana - shop["money_refund"]) / 100
    # the CLI's money report is the same engine: minor units, same figures
    printed = {r["cashier"]: r for r in csv.DictReader(io.StringIO(cli(server, "report", "--by", "cashier",
                                                                             "--money")))}
    assert int(printed["Oksana"]["revenue"]) == oksana - shop["money_refund"]
    assert [int(printed[name]["receipts"]) for name in ("Oksana", "Iryna")] == [float(by_name[name][1])
                                                                                for name in ("Oksana", "Iryna")]

    page.goto(f"{server.url}/admin/reports?kind=sales&by=month")
    shoot(page, "report-month")
    page.goto(f"{server.url}/admin/reports?kind=visits")
    assert "First visit" in page.inner_text("#report")
    shoot(page, "report-visits")
    # the SMS log as the gateways left it: two parts for a Cyrillic welcome with its link, one failed code
    with db.begin() as conn:
        conn.execute(insert(sms_log), [
            dict(phone="+380501110001", purpose="welcome", gateway="turbosms", status="delivered", segments=2,
                 sent_at=clock.now()),
            dict(phone="+380501110002", purpose="welcome", gateway="turbosms", status="sent", segments=2,
                 sent_at=clock.now()),
            dict(phone="+380501110003", purpose="identify", gateway="turbosms", status="failed", segments=1,
                 sent_at=clock.now()),
            dict(phone="+380501110003", purpose="identify", gateway="twilio", status="delivered", segments=1,
                 sent_at=clock.now() - timedelta(days=40))])  # outside the 30 days
    page.goto(f"{server.url}/admin/reports?kind=sms")
    rows = {r.split("\t")[1]: r.split("\t") for r in page.inner_text("#report tbody").splitlines()}
    assert rows["welcome"][2:] == ["2", "1", "0", "1", "4"]  # sent, delivered, failed, waiting, parts
    assert rows["identify"][2:] == ["1", "0", "1", "0", "1"] and "twilio" not in page.inner_text("#report")
    shoot(page, "report-sms")


def test_the_fraud_page_shows_a_no_reply_and_leads_to_its_operations(server, db, shop, page):
    sale = Till(server, "Till 9").sale("10002", 5_000, cashier="Mallory")
    with db.begin() as conn:
        conn.execute(insert(transaction_notices).values(operation_id=sale["id"], phone="+380501110002",
                                                        card_number="10002", sent_at=clock.now(),
                                                        flagged_at=clock.now()))
    sign_in(page, server)
    go_to(page, "Fraud")
    section = page.inner_text("#no-replies")
    assert "Mallory" in section and "Till 9" in section and "+380501110002" not in section  # masked
    assert "signal" in page.inner_text("#signal-count")
    shoot(page, "fraud")
    page.click("#no-replies >> text=Operations")
    page.wait_for_url(re.compile(r".*/admin/journal\?.*card=10002.*"))
    journal = page.inner_text("#journal")
    assert "Mallory" in journal and "Till 9" in journal


def test_an_operator_sees_the_dashboard_but_not_the_fraud_page_or_the_segments(server, shop):
    s = session(server, OPERATOR)
    assert s.get(f"{server.url}/admin/dashboard", timeout=10).status_code == 200
    assert s.get(f"{server.url}/admin/reports?kind=sales&by=device", timeout=10).status_code == 200
    assert s.get(f"{server.url}/admin/fraud", timeout=10).status_code == 403
    assert s.get(f"{server.url}/admin/reports?kind=visits", timeout=10).status_code == 403
    assert s.get(f"{server.url}/admin/reports.xlsx?kind=visits", timeout=10).status_code == 403
    assert "/admin/fraud" not in s.get(f"{server.url}/admin/dashboard", timeout=10).text
    assert requests.get(f"{server.url}/admin/reports.csv", timeout=10, allow_redirects=False).status_code == 303


def test_a_period_without_receipts_says_so_instead_of_listing_zeros(server, shop):
    s = session(server)
    empty = s.get(f"{server.url}/admin/reports?kind=sales&by=day&since=2020-01-01&until=2020-01-30", timeout=10)
    assert empty.status_code == 200 and "Nothing in this period." in empty.text
    assert 'id="report"' not in empty.text and 'id="export-csv"' in empty.text
    assert "Currency: Ukrainian Hryvnia;" in empty.text  # the currency's name, not its ISO code (UAH)
    recent = s.get(f"{server.url}/admin/reports?kind=sales&by=day", timeout=10)  # the shop's sales of these days
    # the dashboard's rankings of an empty week say so rather than stand blank under their headings
    week = s.get(f"{server.url}/admin/dashboard?period=7&on=2020-01-30", timeout=10).text
    for tile in ("top_devices", "top_cashiers"):
        assert "Nothing in this period." in week.split(f'id="tile-{tile}"', 1)[1].split("</section>", 1)[0], tile
    assert 'id="report"' in recent.text and "Nothing in this period." not in recent.text
