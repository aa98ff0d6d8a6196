"""The anti-fraud rules through the real HTTP API of a store server process (seed 000): a cashier device
cannot spend a customer's bonuses without the code that went to the customer's phone."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select, update

from store_server import shop
from store_server.data.db import cards, make_engine, sms_log, sms_status_events
from store_server.messaging.sms.webhooks import twilio_signature
from tests.support.server import init_demo_server

CUSTOMER = "+380501112201"
SECRET = "hook-secret-0123456789"
TWILIO_TOKEN = "twilio-auth-token-abc"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("otp-api"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        # Waiting 30 s between codes would make this module slow; the limits themselves are tested below.
        f.write(f'\n[otp]\nresend_after_seconds = 1\nsends_per_phone_15min = 20\n'
                f'\n[sms]\nwebhook_secret = "{SECRET}"\ntwilio_auth_token = "{TWILIO_TOKEN}"\n')
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def db(server):
    engine = make_engine(f"sqlite:///{server.data_dir / 'store.db'}")
    yield engine
    engine.dispose()


class Device:
    def __init__(self, server, role: str) -> None:
        self.url = f"{server.url}/api/v1"
        self.key = server.enrol(role, name=f"{role} {uuid.uuid4().hex[:6]}")["device_key"]

    def post(self, path: str, body: dict) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=10, headers={"Authorization": f"Bearer {self.key}"})

    def op(self, type_: str, token: str | None = None, **payload) -> dict:
        op = {"id": str(uuid.uuid4()), "type": type_, "at": datetime.now(UTC).isoformat(), "payload": payload,
              "verification_token": token}
        r = self.post("/operations:batch", {"operations": [op]})
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    def code(self, server, purpose: str, phone: str | None = None, **kw) -> tuple[dict, str]:
        time.sleep(1.05)  # resend_after_seconds = 1 in this module's server.toml
        r = self.post("/otp", {"phone": phone, "purpose": purpose, **kw})
        assert r.status_code == 200, r.text
        return r.json(), server.last_code(phone or CUSTOMER)

    def token(self, server, purpose: str, phone: str | None = None, **kw) -> str:
        challenge, code = self.code(server, purpose, phone, **kw)
        r = self.post(f"/otp/{challenge['challenge_id']}/check", {"code": code})
        assert r.status_code == 200, r.text
        return r.json()["verification_token"]


@pytest.fixture(scope="module")
def till(server):
    return Device(server, "cashier")


@pytest.fixture(scope="module")
def customer_card(server, till):
    """Card 10001 registered to CUSTOMER at the entrance kiosk, with 10 000 bonuses from a sale."""
    kiosk = Device(server, "entrance")
    token = kiosk.token(server, "register", CUSTOMER, card_number="10001")
    res = kiosk.op("register", token, phone=CUSTOMER, card_number="10001", consent=True)
    assert res["status"] == "applied", res
    res = till.op("sale", card_number="10001", amount=100_000)
    assert res["status"] == "applied" and res["result"]["balance"] == 10_000, res
    return "10001"


def balance(till, number: str) -> int:
    r = requests.get(f"{till.url}/cards/{number}", headers={"Authorization": f"Bearer {till.key}"}, timeout=5)
    return r.json()["balance"]


def test_welcome_sms_after_registration_says_how_to_opt_out(server, customer_card):
    assert "STOP" in server.last_sms(CUSTOMER)["text"] and "10001" in server.last_sms(CUSTOMER)["text"]


def test_cashier_calling_the_api_directly_without_a_token_is_refused(till, customer_card):
    res = till.op("redeem", card_number=customer_card, amount=3000)
    assert (res["status"], res["error"]) == ("rejected", "verification_required")
    res = till.op("redeem", token="forged-token-value-xyz", card_number=customer_card, amount=3000)
    assert (res["status"], res["error"]) == ("rejected", "verification_invalid")
    assert balance(till, customer_card) == 10_000


def test_code_goes_to_the_cards_phone_and_the_token_spends_once(server, till, customer_card):
    challenge, _ = till.code(server, "redeem", card_number=customer_card, amount=3000)
    assert challenge["phone_masked"] == "+380 •• ••• •• 01" and "phone" not in challenge
    # the cashier's device never sees the code itself
    assert server.last_code(CUSTOMER) not in str(challenge)
    token = till.token(server, "redeem", card_number=customer_card, amount=3000)
    assert till.op("redeem", token, card_number=customer_card, amount=3000)["status"] == "applied"
    assert balance(till, customer_card) == 7000
    replay = till.op("redeem", token, card_number=customer_card, amount=3000)
    assert (replay["status"], replay["error"]) == ("rejected", "verification_used")
    assert balance(till, customer_card) == 7000


def test_token_for_another_amount_or_card_is_refused(server, till, customer_card):
    kiosk = Device(server, "entrance")
    other = "+380501112202"
    token = kiosk.token(server, "register", other, card_number="10003")
    assert kiosk.op("register", token, phone=other, card_number="10003", consent=True)["status"] == "applied"
    assert till.op("sale", card_number="10003", amount=50_000)["status"] == "applied"

    token = till.token(server, "redeem", card_number=customer_card, amount=1000)
    for payload in ({"card_number": customer_card, "amount": 2000}, {"card_number": "10003", "amount": 1000}):
        res = till.op("redeem", token, **payload)
        assert (res["status"], res["error"]) == ("rejected", "verification_mismatch"), payload
    assert balance(till, "10003") == 5000
    assert till.op("redeem", token, card_number=customer_card, amount=1000)["status"] == "applied"


def test_cashier_cannot_have_the_code_sent_to_their_own_phone(server, till, customer_card):
    time.sleep(1.05)
    r = till.post("/otp", {"phone": "+380671234599", "purpose": "redeem", "card_number": customer_card,
                           "amount": 1000})
    assert r.status_code == 400 and r.json()["error"] == "phone_mismatch"


def test_brute_force_sixth_try_fails_even_with_the_right_code(server, till, customer_card):
    challenge, code = till.code(server, "redeem", card_number=customer_card, amount=100)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1, 0):
        r = till.post(f"/otp/{challenge['challenge_id']}/check", {"code": wrong})
        assert (r.status_code, r.json()["error"], r.json()["attempts_left"]) == (400, "wrong_code", left)
    r = till.post(f"/otp/{challenge['challenge_id']}/check", {"code": code})
    assert r.status_code == 400 and r.json()["error"] == "too_many_attempts"


def test_write_off_up_to_the_no_code_limit_needs_no_code(till, db, customer_card):
    with db.begin() as conn:
        shop.put(conn, "no_code_limit", 500)
    try:
        assert till.op("redeem", card_number=customer_card, amount=500)["status"] == "applied"
        assert till.op("redeem", card_number=customer_card, amount=501)["error"] == "verification_required"
    finally:
        with db.begin() as conn:
            shop.put(conn, "no_code_limit", 0)


def test_shop_can_switch_the_code_off_per_operation(till, db, customer_card):
    with db.begin() as conn:
        shop.put(conn, "code_required", {"redeem": False, "discount": False, "return": True})
    try:
        assert till.op("redeem", card_number=customer_card, amount=200)["status"] == "applied"
    finally:
        with db.begin() as conn:
            shop.put(conn, "code_required", {"redeem": True, "discount": False, "return": True})
    assert till.op("redeem", card_number=customer_card, amount=200)["error"] == "verification_required"


def test_sale_with_discount_and_bonuses_takes_one_code_for_both(server, till, db):
    """A shop wanting a code for the discount and for spending bonuses: one code, for discount + bonuses."""
    kiosk, phone = Device(server, "entrance"), "+380501112205"
    token = kiosk.token(server, "register", phone, card_number="10005")
    assert kiosk.op("register", token, phone=phone, card_number="10005", consent=True)["status"] == "applied"
    assert till.op("sale", card_number="10005", amount=50_000)["status"] == "applied"  # 5 000 bonuses
    with db.begin() as conn:
        conn.execute(update(cards).where(cards.c.number == "10005").values(kind="discount", discount_percent=5))
        shop.put(conn, "code_required", {"redeem": True, "discount": True, "return": True})
    try:
        sale = {"card_number": "10005", "amount": 20_000, "redeem": 3000}  # discount 1 000 + bonuses 3 000
        discount_only = till.token(server, "discount", phone, card_number="10005", amount=1000)
        res = till.op("sale", discount_only, **sale)
        assert (res["status"], res["error"]) == ("rejected", "verification_mismatch"), res
        short = till.token(server, "sale", phone, card_number="10005", amount=3000)
        assert till.op("sale", short, **sale)["error"] == "verification_mismatch"
        both = till.token(server, "sale", phone, card_number="10005", amount=4000)
        res = till.op("sale", both, **sale)
        assert res["status"] == "applied", res
        assert (res["result"]["discount"], res["result"]["redeemed"], res["result"]["paid"]) == (1000, 3000, 16_000)
        # only one of the two needing a code: that purpose's own token, as before
        alone = till.token(server, "discount", phone, card_number="10005", amount=500)
        assert till.op("sale", alone, card_number="10005", amount=10_000)["status"] == "applied"
    finally:
        with db.begin() as conn:
            shop.put(conn, "code_required", {"redeem": True, "discount": False, "return": True})


def test_every_code_is_logged_with_gateway_and_message_id(db, customer_card):
    with db.connect() as conn:
        rows = conn.execute(select(sms_log).where(sms_log.c.purpose == "redeem")).mappings().all()
    assert rows and all(r["gateway"] == "console" and r["gateway_message_id"] and r["challenge_id"] for r in rows)
    assert all(r["sent_at"] is not None for r in rows)


def test_delivery_report_webhook_updates_the_log(server, db, customer_card):
    with db.connect() as conn:
        msg = conn.execute(select(sms_log.c.gateway_message_id).where(sms_log.c.phone == CUSTOMER)).scalar()
    hook = f"{server.url}/api/v1/sms/hooks/{SECRET}/status/generic"
    r = requests.post(hook, json={"gateway": "console", "message_id": msg, "status": "failed"}, timeout=5)
    # console messages are logged "delivered" already: a late report does not undo a final state
    assert r.status_code == 200 and r.json()["status"] == "delivered"
    r = requests.post(hook, json={"gateway": "console", "message_id": "no-such-id", "status": "sent"}, timeout=5)
    assert r.status_code == 404
    r = requests.post(hook, json={"gateway": "console", "message_id": msg, "status": "lost"}, timeout=5)
    assert r.status_code == 400
    bad = f"{server.url}/api/v1/sms/hooks/wrong-secret/status/generic"
    assert requests.post(bad, json={"gateway": "console", "message_id": msg, "status": "sent"}, timeout=5
                         ).status_code == 404
    with db.connect() as conn:
        events = conn.execute(select(sms_status_events.c.status).where(
            sms_status_events.c.gateway_message_id == msg)).scalars().all()
    assert events == ["failed"]


def test_send_limits_from_the_shop_setting_apply_at_once(server, till, db):
    kiosk = Device(server, "entrance")
    with db.begin() as conn:
        shop.put(conn, "otp", {"sends_per_phone_15min": 2})
    try:
        for _ in range(2):
            kiosk.code(server, "register", "+380501112299")
        time.sleep(1.05)
        r = kiosk.post("/otp", {"phone": "+380501112299", "purpose": "register"})
        assert r.status_code == 429 and r.json()["error"] == "too_many_codes" and r.json()["retry_after"] > 0
    finally:
        with db.begin() as conn:
            shop.put(conn, "otp", {})


def test_inbound_webhook_activates_a_card_and_replies(server):
    hook = f"{server.url}/api/v1/sms/hooks/{SECRET}/inbound"
    r = requests.post(f"{hook}/generic", json={"from": "+380631112255", "text": "Карта 10050"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"outcome": "activated"}
    assert "STOP" in server.last_sms("+380631112255")["text"]
    # Twilio posts a signed form and wants TwiML back; unsigned or wrongly signed, nothing happens.
    form = {"From": "+380631112266", "Body": "no number here", "MessageSid": "SM1"}
    good = twilio_signature(TWILIO_TOKEN, f"{hook}/twilio", form)
    for signature in (None, twilio_signature("another-token", f"{hook}/twilio", form),
                      twilio_signature(TWILIO_TOKEN, f"{hook}/generic", form)):
        r = requests.post(f"{hook}/twilio", data=form, timeout=10,
                          headers={"X-Twilio-Signature": signature} if signature else {})
        assert r.status_code == 403 and r.json()["error"] == "bad_signature", r.text
    r = requests.post(f"{hook}/twilio", data={**form, "Body": "Карта 10052"}, timeout=10,
                      headers={"X-Twilio-Signature": good})  # a signed form with a changed field
    assert r.status_code == 403
    assert not [m for m in server.sms_file.read_text(encoding="utf-8").splitlines() if "+380631112266" in m]
    r = requests.post(f"{hook}/twilio", data=form, timeout=10, headers={"X-Twilio-Signature": good})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml") and "<Response>" in r.text
    assert "10001" in server.last_sms("+380631112266")["text"]  # the advice shows what a number looks like
    assert requests.post(f"{server.url}/api/v1/sms/hooks/nope/inbound/generic",
                         json={"from": "+380631112277", "text": "10051"}, timeout=10).status_code == 404


def test_transaction_notices_only_when_on_and_not_after_stop(server, till, db, customer_card):
    before = server.last_sms(CUSTOMER)["text"]
    till.op("sale", card_number=customer_card, amount=1000)
    assert server.last_sms(CUSTOMER)["text"] == before  # notices are off by default
    with db.begin() as conn:
        shop.put(conn, "transaction_sms", "money")
    try:
        till.op("sale", card_number=customer_card, amount=1000)
        assert "+1,00" in server.last_sms(CUSTOMER)["text"] and customer_card in server.last_sms(CUSTOMER)["text"]
        hook = f"{server.url}/api/v1/sms/hooks/{SECRET}/inbound/generic"
        r = requests.post(hook, json={"from": CUSTOMER, "text": "STOP"}, timeout=10)
        assert r.json() == {"outcome": "opted_out"}
        stop_reply = server.last_sms(CUSTOMER)["text"]
        till.op("sale", card_number=customer_card, amount=1000)
        assert server.last_sms(CUSTOMER)["text"] == stop_reply
    finally:
        with db.begin() as conn:
            shop.put(conn, "transaction_sms", "off")


def test_at_the_till_the_customers_code_is_their_consent(server, db, till):
    """The cashier no longer taps "I accept" for the customer: the SMS asks the customer to tell the code to
    the cashier as their acceptance of the terms, and the server records the consent from that code. At the
    entrance the customer's own tap on the screen is the consent: without it, none is recorded."""
    from store_server.data.db import customers

    at_till, at_entrance = "+380501112231", "+380501112232"
    token = till.token(server, "register", at_till, card_number="10011")
    # (in the shop's first language, Ukrainian: "tell the cashier: it is your consent to the terms")
    assert "касиру" in server.last_sms(at_till)["text"] and "згода з умовами" in server.last_sms(at_till)["text"]
    assert till.op("register", token, phone=at_till, card_number="10011", consent=False)["status"] == "applied"
    kiosk = Device(server, "entrance")
    token = kiosk.token(server, "register", at_entrance, card_number="10012")
    assert "касир" not in server.last_sms(at_entrance)["text"]
    assert kiosk.op("register", token, phone=at_entrance, card_number="10012", consent=False)["status"] == "applied"
    with db.connect() as conn:
        consent = dict(conn.execute(select(customers.c.phone, customers.c.consent_at)
                                    .where(customers.c.phone.in_([at_till, at_entrance]))).all())
    assert consent[at_till] is not None and consent[at_entrance] is None
