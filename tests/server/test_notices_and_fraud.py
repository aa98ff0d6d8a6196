"""Transaction notices and the fraud report against a real server: "Not you? Reply NO" flags the operation and
its cashier (report and owner), a cashier accruing onto their own phone's card shows, and so does a phone
identified at many tills."""

from __future__ import annotations

import pytest
import requests

from store_server.messaging.sms import templates
from tests.server.test_till_money_flow import Device, add_cashier
from tests.support.cli import run_cli
from tests.support.server import init_demo_server

SECRET = "notices-hook-secret-0123"
CUSTOMER, CASHIER_PHONE, OWNER = "+380501115501", "+380671115502", "+380671115503"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("notices"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write(f'\n[otp]\nresend_after_seconds = 1\nsends_per_phone_15min = 50\n'
                f'\n[sms]\nwebhook_secret = "{SECRET}"\n')
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shop(server):
    olena, pin = add_cashier(server, "Olena", "--phone", CASHIER_PHONE)
    tills = [Device(server, "cashier", f"Till {n}") for n in (1, 2, 3)]
    for till in tills:
        till.cashier = olena
    kiosk = Device(server, "entrance", "Entrance")
    for phone, number in ((CUSTOMER, "10001"), (CASHIER_PHONE, "10002")):
        token = kiosk.token("register", phone, card_number=number)
        assert kiosk.op("register", token, cashier=None, phone=phone, card_number=number,
                        consent=True)["status"] == "applied"
    server.cli("settings", "set", "transaction_sms", "money")
    server.cli("settings", "set", "owner_phone", OWNER)
    return tills


def inbound(server, phone: str, text: str) -> str:
    r = requests.post(f"{server.url}/api/v1/sms/hooks/{SECRET}/inbound/generic", json={"from": phone, "text": text},
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["outcome"]


def test_settings_are_checked_before_they_are_stored(server):
    for key, value in (("transaction_sms", "sometimes"), ("staff_phones", '["not a phone"]'),
                       ("bonus_payment_max_percent", "150"), ("identify_code_required", '"yes"')):
        out = run_cli("--config", str(server.config_path), "settings", "set", key, value)
        assert out.returncode == 1 and "bad_setting" in out.stderr, (key, out.stderr)
    server.cli("settings", "set", "staff_phones", '["050 111 55 09"]')


def test_notice_after_a_receipt_and_a_no_reply_flags_it(server, shop):
    till = shop[0]
    sale = till.op("sale", card_number="10001", amount=25_000)
    assert sale["status"] == "applied"
    notice = server.last_sms(CUSTOMER)["text"]
    assert "+25,00" in notice and "10001" in notice and "НІ" in notice  # the shop's language: uk, its way
    assert inbound(server, CUSTOMER, "Ні") == "flagged"
    assert server.last_sms(CUSTOMER)["text"] == templates.render("notice_flagged", "uk", shop="Demo Shop")
    alert = server.last_sms(OWNER)["text"]
    assert "Olena" in alert and "10001" in alert and "Till 1" in alert and "501115501" not in alert
    report = server.cli("fraud-report")
    assert "NO replies to transaction notices: 1" in report
    assert f"sale {sale['id']}" in report and "cashier Olena" in report
    # A NO with no notice behind it flags nothing and is not answered.
    assert inbound(server, "+380501115599", "NO") == "no_notice"


def test_bonus_payment_and_return_get_notices_too(server, shop):
    till = shop[0]
    token = till.token("redeem", CUSTOMER, card_number="10001", amount=500)
    sale = till.op("sale", token, card_number="10001", amount=10_000, bonus_payment=500)
    assert sale["status"] == "applied", sale
    notice = server.last_sms(CUSTOMER)["text"]
    assert "5,00" in notice and "100,00 ₴" in notice  # bonuses paid and the purchase, in uk and hryvnias
    token = till.token("return", CUSTOMER, card_number="10001", amount=500)
    ret = till.op("return", token, sale_id=sale["id"], amount=10_000)
    assert ret["status"] == "applied", ret
    assert "повернення" in server.last_sms(CUSTOMER)["text"]


def test_fraud_report_shows_own_phone_cards_per_cashier_and_identify_at_many_tills(server, shop):
    shop[1].op("sale", card_number="10002", amount=50_000)  # Olena accrues onto her own card
    for till in shop:
        till.token("identify", CUSTOMER)
    report = server.cli("fraud-report", "--min-devices", "3")
    assert "cashier Olena  own phone +380 •• ••• •• 02  card 10002" in report
    assert "phones identified by code at many tills: 1" in report and "+380 •• ••• •• 01  3 tills" in report
    assert "Olena  " in report.split("bonuses per cashier")[1]


def test_all_mode_also_tells_of_a_purchase_that_moved_no_bonuses(server, shop):
    phone = "+380501115507"
    server.cli("cards", "type", "vip", "--kind", "discount", "--discount", "10")
    server.cli("cards", "issue", "30001", "30001", "--type", "vip")
    kiosk = Device(server, "entrance", "Entrance 2")
    token = kiosk.token("register", phone, card_number="30001")
    assert kiosk.op("register", token, cashier=None, phone=phone, card_number="30001",
                    consent=True)["status"] == "applied"
    welcome = server.last_sms(phone)["text"]
    assert shop[0].op("sale", card_number="30001", amount=10_000)["status"] == "applied"
    assert server.last_sms(phone)["text"] == welcome  # "money": a discount moves no bonuses
    server.cli("settings", "set", "transaction_sms", "all")
    try:
        assert shop[0].op("sale", card_number="30001", amount=10_000)["status"] == "applied"
        notice = server.last_sms(phone)["text"]
        assert "100,00 ₴" in notice and "30001" in notice and "НІ" in notice
    finally:
        server.cli("settings", "set", "transaction_sms", "money")
