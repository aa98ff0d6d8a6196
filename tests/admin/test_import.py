"""CSV import in the browser: a file with a bad line is refused with the line named and nothing imported; a good
Windows-1251 file with ";" is detected as such, imported with a progress bar, and its opening balances are
booked through the ledger as audited "opening" operations."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.admin.conftest import OWNER, add_account, csrf_of, go_to, session, shoot, sign_in
from tests.support.server import init_demo_server

HEADER = "phone;card_number;name;consent;balance"
GOOD = [f"+38050222{n:04d};{10040 + n};Клієнт {n};так;{n},50" for n in range(1, 41)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("import")).start()
    assert add_account(srv, OWNER, "owner").returncode == 0
    yield srv
    srv.stop()


def query(server, sql: str, *args) -> list[tuple]:
    db = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def upload(page, path) -> None:
    page.goto(page.url.split("/admin/")[0] + "/admin/import")
    page.set_input_files("input[type=file]", str(path))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#detected")


def test_a_bad_line_refuses_the_whole_file_then_a_good_cp1251_file_imports_with_opening_balances(
        server, page, tmp_path):
    bad = tmp_path / "old-system.csv"
    lines = [HEADER.replace("так", "yes"), *[line.replace("так", "yes") for line in GOOD[:3]],
             "+380502229999;10099;Bad balance;yes;12,5x"]
    bad.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    sign_in(page, server)
    go_to(page, "Import")
    shoot(page, "import-start")
    upload(page, bad)
    assert "Windows-1251" in page.inner_text("#detected") and "semicolon" in page.inner_text("#detected")
    problems = page.inner_text("#problems")
    assert "Line 5:" in problems and "12,5x" in problems, problems
    assert page.locator("#run").count() == 0  # nothing to press
    assert "12,5x" in page.inner_text("#preview tr.bad")
    shoot(page, "import-refused")
    # Even sent by hand, the run is refused as a whole with the line named, and nothing was imported.
    job_id = page.url.rsplit("/", 1)[1]
    s = session(server)
    csrf = csrf_of(s, f"{server.url}/admin/import/{job_id}")
    s.post(f"{server.url}/admin/import/{job_id}/run", data={"csrf": csrf}, timeout=60)
    deadline = time.monotonic() + 120  # the job runs in the server's background: a loaded machine is slow
    while True:
        progress = s.get(f"{server.url}/admin/import/{job_id}/progress", timeout=60).json()
        if progress["status"] != "running" or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)
    assert progress["status"] == "failed" and [(p["line"], p["code"]) for p in progress["problems"]] == [
        (5, "bad_balance")], progress
    assert "12,5x" in progress["problems"][0]["text"]
    page.goto(f"{server.url}/admin/import/{job_id}")
    assert "Line 5:" in page.inner_text("#error") and "12,5x" in page.inner_text("#error")
    assert query(server, "select count(*) from customers where phone like '+38050222%'") == [(0,)]
    assert query(server, "select count(*) from ledger where kind = 'opening'") == [(0,)]
    assert query(server, "select state from cards where number = '10041'") == [("issued",)]

    good = tmp_path / "old-system-fixed.csv"
    good.write_bytes(("\r\n".join([HEADER, *GOOD]) + "\r\n").encode("cp1251"))
    upload(page, good)
    assert "Windows-1251" in page.inner_text("#detected") and "semicolon" in page.inner_text("#detected")
    assert page.locator("#preview tbody tr").count() == 20 and page.locator("#preview tr.bad").count() == 0
    assert "Клієнт 1" in page.inner_text("#preview")
    shoot(page, "import-preview")
    page.click("#run button")
    page.wait_for_selector("#job")
    page.wait_for_selector("#job[data-status='done']", timeout=60_000)
    assert "40 customers imported" in page.inner_text("#figures")
    shoot(page, "import-done")

    rows = query(server, "select c.number, c.state, cu.name, l.amount, l.kind, o.type, o.cashier, o.device_id "
                         "from cards c join customers cu on cu.id = c.customer_id "
                         "join ledger l on l.card_number = c.number join operations o on o.id = l.operation_id "
                         "where c.number between '10041' and '10080' order by c.number")
    assert len(rows) == 40
    for n, (number, state, name, amount, kind, op_type, cashier, device) in enumerate(rows, 1):
        assert (number, state, name, amount, kind, op_type, cashier, device) == (
            str(10040 + n), "active", f"Клієнт {n}", n * 100 + 50, "opening", "opening", OWNER, "admin")
    assert query(server, "select sum(amount) from ledger where kind = 'opening'") == [(sum(n * 100 + 50 for n in
                                                                                            range(1, 41)),)]
    assert query(server, "select account, target from admin_audit where action = 'customers_imported'") == [
        (OWNER, "old-system-fixed.csv")]
    # The same file again: every line is refused now (the phones are customers), and nothing changes.
    upload(page, good)
    assert "is already a customer" in page.inner_text("#problems")
    assert query(server, "select count(*) from ledger where kind = 'opening'") == [(40,)]


def test_the_problems_are_told_in_the_readers_language(server, browser, tmp_path):
    bad = tmp_path / "stara-systema.csv"
    bad.write_bytes("phone;card_number;name;balance\r\n+380502228888;10090;Оксана;-5\r\n0000;10091;Петро;1\r\n".encode("cp1251"))
    context = browser.new_context(viewport={"width": 800, "height": 1280}, locale="uk-UA")
    pg = context.new_page()
    try:
        sign_in(pg, server)
        go_to(pg, "Імпорт")
        upload(pg, bad)
        assert "Windows-1251 (кирилиця)" in pg.inner_text("#detected")
        assert "крапка з комою" in pg.inner_text("#detected")
        problems = pg.inner_text("#problems")
        assert "Рядок 2: Баланс '-5' від'ємний" in problems and "Рядок 3: Телефон" in problems, problems
        assert "0000" not in problems  # masked like every phone on a screen
        shoot(pg, "import-refused-uk")
    finally:
        context.close()


def test_a_file_that_is_not_text_is_refused_with_a_clear_message(server, page, tmp_path):
    junk = tmp_path / "photo.csv"
    junk.write_bytes(bytes(range(256)) * 20)
    sign_in(page, server)
    page.goto(f"{server.url}/admin/import")
    page.set_input_files("input[type=file]", str(junk))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector(".notice.error")
    assert "Save it as CSV UTF-8" in page.inner_text(".notice.error")
