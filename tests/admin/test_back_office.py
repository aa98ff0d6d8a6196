"""The back office in Debian's Chromium against a real server: what the owner and an operator do all day."""

from __future__ import annotations

import io
import json
import re
import uuid

import requests
import zxingcpp
from PIL import Image
from sqlalchemy import select

from drivers.scanner.decode import EnrolmentCode, decode
from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.balance import Balance
from kiosk.flows.identify import IdentifyFlow, IdentifyState
from kiosk.store import LocalStore
from loyalty_common.money import format_money
from store_server import clock
from store_server.data.db import admin_audit, customer_answers, customers, ledger

from .conftest import OPERATOR, Till, csrf_of, go_to, seed_customer, session, shoot, sign_in


def money(minor: int) -> str:
    """As the page writes it for an English reader in the demo shop (Ukraine, hryvnia)."""
    return format_money(minor, "UAH", "en", "UA")


def test_owner_finds_a_customer_by_phone_and_corrects_the_balance(server, db, page):
    seed_customer(db, "10001", "+380501234567", "Olena Kovalenko")
    till = Till(server)
    assert till.sale("10001", 20_000)["status"] == "applied"  # 10 % back: 20.00 on the card
    sign_in(page, server)
    shoot(page, "customers-empty")
    page.fill("input[name=q]", "050 123 45 67")  # the way people say it, not E.164
    page.click("form.search button")
    page.wait_for_selector("table.list")
    assert "Olena Kovalenko" in page.inner_text("table.list")
    assert "+380 •• ••• •• 67" in page.inner_text("table.list")  # masked
    shoot(page, "customers-found")
    page.click("text=10001")
    page.wait_for_url(re.compile(r".*/admin/cards/10001"))
    assert page.inner_text("#balance") == money(2000)
    history = page.inner_text("#history")
    assert "Till 1" in history and "Iryna" in history and "accrual" in history
    page.click("#adjust summary")
    page.fill("#adjust input[name=amount]", "5.50")
    page.fill("#adjust input[name=reason]", "Receipt 1187 was not scanned")
    page.click("#adjust button[type=submit]")
    page.wait_for_selector(".notice.ok")
    assert page.inner_text("#balance") == money(2550)
    assert "Receipt 1187 was not scanned" in page.inner_text("#history")
    assert "correction" in page.inner_text("#history")
    shoot(page, "card")
    assert till.card("10001")["balance"] == 2550  # the devices see the same ledger
    with db.connect() as conn:
        rows = conn.execute(select(ledger.c.kind, ledger.c.amount).where(ledger.c.card_number == "10001")).all()
        assert ("adjustment", 550) in [tuple(r) for r in rows]
        audit = conn.execute(select(admin_audit).where(admin_audit.c.action == "balance_corrected")).mappings().one()
        assert audit["account"] == "olga" and audit["target"] == "10001" and audit["address"] == "127.0.0.1"
        assert audit["details"]["amount"] == 550
    page.goto(f"{server.url}/admin/journal?card=10001")
    journal = page.inner_text("#journal")
    assert "balance correction" in journal and "+" in journal and "olga" in journal
    shoot(page, "journal")
    page.goto(f"{server.url}/admin/audit")
    assert "corrected a balance" in page.inner_text("#audit")
    shoot(page, "audit")


def test_a_correction_below_zero_or_without_reason_is_refused_and_nothing_moves(server, db):
    seed_customer(db, "10010", "+380501234510", "Taras")
    s = session(server)
    token = csrf_of(s, f"{server.url}/admin/cards/10010")
    r = s.post(f"{server.url}/admin/cards/10010/adjust", data={"csrf": token, "amount": "-1", "reason": "oops"})
    assert r.status_code == 400 and "cannot go below zero" in r.text
    r = s.post(f"{server.url}/admin/cards/10010/adjust", data={"csrf": token, "amount": "3", "reason": " "})
    assert r.status_code == 400 and "reason is required" in r.text
    r = s.post(f"{server.url}/admin/cards/10010/adjust", data={"csrf": token, "amount": "3.333", "reason": "x"})
    assert r.status_code == 400
    with db.connect() as conn:
        assert conn.execute(select(ledger).where(ledger.c.card_number == "10010")).first() is None
    # the same form sent twice (a double click) corrects once
    op_id = str(uuid.uuid4())
    for _ in range(2):
        r = s.post(f"{server.url}/admin/cards/10010/adjust",
                   data={"csrf": token, "amount": "7", "reason": "welcome gift", "op_id": op_id})
        assert r.status_code == 200
    with db.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(ledger.c.amount).where(ledger.c.card_number == "10010"))] \
            == [(700,)]


def test_a_lost_card_is_replaced_and_the_old_number_says_so_at_the_kiosk(server, db, page, tmp_path):
    seed_customer(db, "10002", "+380671234502", "Mykola")
    till = Till(server, name="Till 2")
    till.sale("10002", 50_000)
    sign_in(page, server)
    page.goto(f"{server.url}/admin/cards/10002")
    page.click("#replace summary")
    page.fill("#replace input[name=new_number]", "10003")
    page.click("#replace button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/cards/10003.*"))
    assert page.inner_text("#balance") == money(5000)
    assert "10002" in page.inner_text("main")  # replaces the lost card 10002; its history is here
    assert "Till 2" in page.inner_text("#history")
    shoot(page, "card-replaced")
    # An entrance kiosk scans the old card: the flow shows it as replaced, with nothing on it.
    enrolled = server.enrol("entrance", name="Entrance")
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "kiosk.db")
    flow = IdentifyFlow(Backend(store, client))
    assert flow.lookup("10002") is IdentifyState.CARD
    shown = Balance.of(flow.view, role="entrance")
    assert shown.state == "replaced" and shown.notice == "card_replaced" and shown.balance == 0
    assert flow.lookup("10003") is IdentifyState.CARD and flow.view.card["balance"] == 5000
    # and the till may not sell on it
    assert till.sale("10002", 1000)["error"] == "card_replaced"
    # the phone now finds the new card (the till's phone look-up without the customer's code, for the test)
    server.cli("settings", "set", "identify_code_required", "false")
    r = requests.get(f"{server.url}/api/v1/customers", params={"phone": "+380671234502"}, headers=till.headers,
                     timeout=5)
    assert r.json()["number"] == "10003"
    store.close()


def _pending_activation(server, till: Till, number: str, phone: str) -> None:
    server.cli("devices", "till-activation", till.id, "review")
    r = requests.post(f"{server.url}/api/v1/otp", headers=till.headers, timeout=5,
                      json={"phone": phone, "purpose": "register", "card_number": number})
    r.raise_for_status()
    challenge = r.json()["challenge_id"]
    r = requests.post(f"{server.url}/api/v1/otp/{challenge}/check", headers=till.headers, timeout=5,
                      json={"code": server.last_code(phone)})
    r.raise_for_status()
    result = till.batch({"id": str(uuid.uuid4()), "type": "register", "at": clock.now().isoformat(),
                         "cashier": "Iryna", "verification_token": r.json()["verification_token"],
                         "payload": {"phone": phone, "card_number": number, "consent": True}})[0]
    assert result["result"]["pending_review"] is True, result


def test_an_operator_approves_an_activation(server, page):
    till = Till(server, name="Till 3")
    _pending_activation(server, till, "10020", "+380931234520")
    assert till.card("10020")["state"] == "issued"
    sign_in(page, server, OPERATOR)
    go_to(page, "Activations")
    page.wait_for_selector("#activations")
    assert "10020" in page.inner_text("#activations") and "Till 3" in page.inner_text("#activations")
    shoot(page, "activations")
    page.click("#activations button.primary")
    page.wait_for_selector(".notice.ok")
    assert till.card("10020")["state"] == "active"
    page.goto(f"{server.url}/admin/activations?all=1")
    assert "approved" in page.inner_text("#activations") and OPERATOR in page.inner_text("#activations")
    # the SMS log, filtered by the phone as people write it: the code and the welcome, delivered (console gateway)
    page.goto(f"{server.url}/admin/sms?phone=093 123 45 20")
    log = page.inner_text("table.sms")
    assert "welcome" in log and "register" in log and "delivered" in log and "+380 •• ••• •• 20" in log
    assert "+380931234520" not in page.content()


def test_the_enrolment_token_qr_on_the_page_enrols_a_kiosk(server, page):
    sign_in(page, server)
    go_to(page, "Devices")
    page.select_option("select[name=role]", "entrance")
    page.click("text=Create token and QR")
    page.wait_for_selector("#enrol-qr")
    shoot(page, "devices-token")
    png = page.locator("#enrol-qr").screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert decoded, "no QR found in the page's image"
    code = decode(decoded[0].text)  # what the kiosk's scanner makes of it
    assert isinstance(code, EnrolmentCode), code
    assert code.server_url == server.url and code.role == "entrance"
    token = code.token
    assert token == page.inner_text("#enrol-token")
    r = requests.post(f"{server.url}/api/v1/devices/enrol", timeout=5,
                      json={"enrolment_token": token, "name": "Door kiosk", "role": "entrance"})
    assert r.status_code == 200
    key = r.json()["device_key"]
    r = requests.post(f"{server.url}/api/v1/devices/heartbeat", headers={"Authorization": f"Bearer {key}"},
                      timeout=5, json={"app_version": "1.2.3", "outbox_pending": 4, "outbox_failed": 1,
                                       "last_sync_error": "server unreachable", "last_sync_error_at": 1.79e9})
    assert r.status_code == 200 and "questionnaire" in r.json()
    page.goto(f"{server.url}/admin/devices")
    row = page.locator("#devices tr", has_text="Door kiosk").inner_text()
    assert "1.2.3" in row and "4" in row and "server unreachable" in row and "entrance kiosk" in row
    shoot(page, "devices")
    page.locator("#devices tr", has_text="Door kiosk").locator("button.danger").click()
    page.wait_for_selector(".notice.ok")
    r = requests.get(f"{server.url}/api/v1/config", headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "device_revoked"


def test_forms_without_the_csrf_token_and_an_operators_owner_actions_are_refused(server, db):
    seed_customer(db, "10030", "+380501234530", "Anna")
    operator = session(server, OPERATOR)
    token = csrf_of(operator, f"{server.url}/admin/cards/10030")
    r = operator.post(f"{server.url}/admin/cards/10030/adjust", data={"amount": "100", "reason": "x"})
    assert r.status_code == 403 and "form expired" in r.text
    r = operator.post(f"{server.url}/admin/cards/10030/adjust", data={"csrf": token, "amount": "100", "reason": "x"})
    assert r.status_code == 403 and "Only the shop owner" in r.text
    r = operator.post(f"{server.url}/admin/cards/10030/erase", data={"csrf": token, "confirm": "10030"})
    assert r.status_code == 403
    for path in ("/admin/devices", "/admin/accounts", "/admin/audit"):
        assert operator.get(f"{server.url}{path}").status_code == 403, path
    r = operator.post(f"{server.url}/admin/devices/token", data={"csrf": token, "role": ""})
    assert r.status_code == 403
    # another site's form posting into the owner's session: no token, no change
    owner = session(server)
    r = owner.post(f"{server.url}/admin/cards/10030/state", data={"state": "blocked", "csrf": "forged"})
    assert r.status_code == 403
    with db.connect() as conn:
        assert conn.execute(select(ledger).where(ledger.c.card_number == "10030")).first() is None
    assert "active" in owner.get(f"{server.url}/admin/cards/10030").text
    # the cookie is HttpOnly and SameSite
    r = requests.get(f"{server.url}/admin/login", timeout=5)
    token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = requests.post(f"{server.url}/admin/login", cookies=r.cookies, allow_redirects=False, timeout=10,
                      data={"name": "olga", "password": "correct horse battery", "csrf": token})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    # signing out ends the session on the server, not only in the browser
    stolen = dict(owner.cookies)
    owner.post(f"{server.url}/admin/logout", data={"csrf": csrf_of(owner, f"{server.url}/admin/customers")})
    r = requests.get(f"{server.url}/admin/customers", cookies=stolen, allow_redirects=False, timeout=5)
    assert r.status_code == 303 and "/admin/login" in r.headers["location"]


def test_wrong_passwords_lock_the_account(server):
    from .conftest import add_account

    assert add_account(server, "guest", "operator").returncode == 0
    s = requests.Session()
    for i in range(6):
        r = s.get(f"{server.url}/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
        r = s.post(f"{server.url}/admin/login", data={"name": "guest", "password": f"wrong {i}", "csrf": token})
        assert r.status_code == (401 if i < 5 else 429), (i, r.status_code)
    token = re.search(r'name="csrf" value="([^"]+)"', s.get(f"{server.url}/admin/login").text).group(1)
    r = s.post(f"{server.url}/admin/login", data={"name": "guest", "password": "correct horse battery",
                                                  "csrf": token})
    assert r.status_code == 429 and "locked" in r.text
    server.cli("admin", "unlock", "guest")
    session(server, "guest")


def test_export_and_erase_a_customers_data(server, db):
    customer_id = seed_customer(db, "10040", "+380501234540", "Iryna Shevchenko")
    Till(server, name="Till 4").sale("10040", 10_000)
    s = session(server)
    r = s.get(f"{server.url}/admin/cards/10040/export.json")
    data = json.loads(r.text)
    assert data["customer"]["phone"] == "+380501234540" and data["customer"]["name"] == "Iryna Shevchenko"
    assert [c["number"] for c in data["cards"]] == ["10040"] and data["ledger"][0]["amount"] == 1000
    token = csrf_of(s, f"{server.url}/admin/cards/10040")
    r = s.post(f"{server.url}/admin/cards/10040/erase", data={"csrf": token, "confirm": "10041"})
    assert r.status_code == 400  # the wrong number typed: nothing happens
    r = s.post(f"{server.url}/admin/cards/10040/erase", data={"csrf": token, "confirm": "10040"})
    assert r.status_code == 200 and "erased" in r.text
    with db.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.id == customer_id)).mappings().one()
        assert row["phone"] is None and row["name"] is None
        assert conn.execute(select(customer_answers).where(customer_answers.c.customer_id == customer_id)).first() \
            is None
        assert conn.execute(select(ledger.c.amount).where(ledger.c.card_number == "10040")).scalar() == 1000


def test_a_page_in_ukrainian(server, db, page):
    seed_customer(db, "10050", "+380501234550", "Оксана")
    sign_in(page, server)
    page.click(".who .lang summary")
    page.click("a[lang=uk]")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "Клієнти"
    page.goto(f"{server.url}/admin/customers?q=Оксана")
    assert "Оксана" in page.inner_text("table.list")
    page.goto(f"{server.url}/admin/cards/10050")
    assert "Баланс" in page.inner_text("main") and "₴" in page.inner_text("#balance")
    shoot(page, "card-uk")
    page.goto(f"{server.url}/admin/journal")
    assert "Журнал операцій" in page.inner_text("h1")
    # The shop's time zone by its city in Ukrainian, not the identifier the server stores.
    assert "Київ (GMT+0" in page.inner_text("main") and "Europe/Kyiv" not in page.inner_text("main")


def test_screenshots_of_the_remaining_pages(server, page):
    sign_in(page, server)
    for name, path in (("sms", "/admin/sms"), ("accounts", "/admin/accounts"), ("password", "/admin/password")):
        page.goto(f"{server.url}{path}")
        shoot(page, name)
    page.goto(f"{server.url}/admin/logout")  # GET is not a sign-out
    page.context.clear_cookies()
    page.goto(f"{server.url}/admin/")
    shoot(page, "login")


def test_changing_the_password_signs_other_sessions_out(server):
    from .conftest import add_account

    assert add_account(server, "maria", "operator").returncode == 0
    here, elsewhere = session(server, "maria"), session(server, "maria")
    token = csrf_of(here, f"{server.url}/admin/password")
    r = here.post(f"{server.url}/admin/password", data={"csrf": token, "current": "wrong password!",
                                                        "new": "a new long password", "again": "a new long password"})
    assert r.status_code == 400 and "current password is not right" in r.text
    r = here.post(f"{server.url}/admin/password", data={"csrf": token, "current": "correct horse battery",
                                                        "new": "a new long password", "again": "another one!!"})
    assert r.status_code == 400 and "differ" in r.text
    r = here.post(f"{server.url}/admin/password", data={"csrf": token, "current": "correct horse battery",
                                                        "new": "short", "again": "short"})
    assert r.status_code == 400 and "at least 10" in r.text
    r = here.post(f"{server.url}/admin/password", data={"csrf": token, "current": "correct horse battery",
                                                        "new": "a new long password", "again": "a new long password"})
    assert r.status_code == 200 and "password was changed" in r.text
    assert here.get(f"{server.url}/admin/customers").url.endswith("/admin/customers")  # this browser stays in
    assert "/admin/login" in elsewhere.get(f"{server.url}/admin/customers").url  # the other one is out
    session(server, "maria", "a new long password")


def test_a_sale_made_with_the_lost_card_is_returned_and_cancelled_on_the_new_one(server, db):
    seed_customer(db, "10080", "+380501234580", "Lesia")
    till = Till(server, name="Till 8")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for op_id, amount in ((first, 10_000), (second, 20_000)):
        result = till.batch({"id": op_id, "type": "sale", "at": clock.now().isoformat(), "cashier": "Iryna",
                             "payload": {"card_number": "10080", "amount": amount}})[0]
        assert result["status"] == "applied", result
    s = session(server)
    token = csrf_of(s, f"{server.url}/admin/cards/10080")
    r = s.post(f"{server.url}/admin/cards/10080/replace", data={"csrf": token, "new_number": "10081",
                                                               "reason": "lost"}, allow_redirects=False)
    assert r.status_code == 303
    assert till.card("10081")["balance"] == 3000
    back = till.batch({"id": str(uuid.uuid4()), "type": "return", "at": clock.now().isoformat(), "cashier": "Iryna",
                       "payload": {"sale_id": first, "amount": 5_000}})[0]
    assert back["status"] == "applied", back
    assert back["result"]["card_number"] == "10081" and back["result"]["bonuses_taken"] == 500
    undone = till.batch({"id": str(uuid.uuid4()), "type": "cancel", "at": clock.now().isoformat(),
                         "cashier": "Iryna", "payload": {"operation_id": second}})[0]
    assert undone["status"] == "applied", undone
    assert undone["result"]["card_number"] == "10081" and undone["result"]["bonuses"] == -2000
    assert till.card("10081")["balance"] == 500 and till.card("10080")["balance"] == 0


def test_a_search_cut_at_its_limit_says_so(server):
    owner = session(server)
    # The owner's language is the account's: another test of this module may have left it in Ukrainian.
    owner.get(f"{server.url}/admin/lang/en", timeout=10)
    many = owner.get(f"{server.url}/admin/customers", params={"q": "100"}, timeout=10).text
    assert "The first 50 cards found; type more" in many  # not "50 cards found", as if that were all of them
    one = owner.get(f"{server.url}/admin/customers", params={"q": "10001"}, timeout=10).text
    assert "1 card found" in one and "The first" not in one
