"""Activation at the till (SPEC, Registration and activation): by the till's right, a cashier's activation of a
pre-issued card binds at once, waits for an operator's review, or is refused; operators list, approve and
reject pending activations with `store-server activations`, both recorded in the card's audit."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from store_server import shops
from store_server.data.db import cards as cards_table
from store_server.data.db import customer_answers, customers, devices, operations, till_activations
from store_server.errors import DomainError
from store_server.messaging import till_activation
from tests.server.conftest import CASHIER, ENTRANCE
from tests.server.test_cards import token_for
from tests.server.test_otp_api import Device
from tests.support.cli import run_cli
from tests.support.server import init_demo_server

# --- through the real API and CLI ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("till-activation"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        # Codes for many phones from few devices; the code limits are the OTP tests' subject.
        f.write("\n[otp]\nresend_after_seconds = 1\nsends_per_device_hour = 1000\n")
    srv.start()
    yield srv
    srv.stop()


def cli(server, *args, ok=True) -> subprocess.CompletedProcess:
    proc = run_cli("--config", str(server.config_path), *args)
    assert (proc.returncode == 0) is ok, (proc.stdout, proc.stderr)
    return proc


class Till(Device):
    def __init__(self, server, role: str = "cashier") -> None:
        self.url = f"{server.url}/api/v1"
        dev = server.enrol(role, name=f"{role} {uuid.uuid4().hex[:6]}")
        self.key, self.id = dev["device_key"], dev["device_id"]

    def code(self, server, purpose: str, phone: str | None = None, **kw) -> tuple[dict, str]:
        r = self.post("/otp", {"phone": phone, "purpose": purpose, **kw})
        if r.status_code == 429 and r.json()["error"] == "resend_too_soon":  # only a phone used twice waits
            time.sleep(1.05)
            r = self.post("/otp", {"phone": phone, "purpose": purpose, **kw})
        assert r.status_code == 200, r.text
        return r.json(), server.last_code(phone)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10, headers={"Authorization": f"Bearer {self.key}"})

    def activate(self, server, phone: str, card: str, op_id: str | None = None, **extra) -> dict:
        token = self.token(server, "register", phone, card_number=card)
        return self.send("register", token, op_id=op_id, phone=phone, card_number=card, consent=True, **extra)

    def send(self, type_: str, token: str | None = None, op_id: str | None = None, **payload) -> dict:
        op = {"id": op_id or str(uuid.uuid4()), "type": type_, "at": datetime.now(UTC).isoformat(),
              "payload": payload, "verification_token": token, "cashier": "Olena"}
        r = self.post("/operations:batch", {"operations": [op]})
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    def card(self, number: str) -> dict:
        return self.get(f"/cards/{number}").json()


@pytest.fixture
def review(server):
    cli(server, "settings", "set", "till_activation", "review")
    yield
    cli(server, "settings", "set", "till_activation", "direct")


def pending_ids(server) -> list[int]:
    return [int(line.split("\t")[0]) for line in cli(server, "activations", "list").stdout.splitlines()]


def test_by_default_a_till_activates_at_once(server):
    till = Till(server)
    assert till.get("/config").json()["till_activation"] == "direct"
    res = till.activate(server, "+380501230001", "10001")
    assert res["status"] == "applied" and res["result"] == {"card_number": "10001"}
    assert till.card("10001")["state"] == "active"
    assert "STOP" in server.last_sms("+380501230001")["text"]  # the welcome


def test_under_review_the_card_waits_and_the_operator_approves(server, review):
    till, phone = Till(server), "+380501230002"
    assert till.get("/config").json()["till_activation"] == "review"
    op_id = str(uuid.uuid4())
    res = till.activate(server, phone, "10002", op_id=op_id, marketing=True)
    assert res["status"] == "applied" and res["result"]["pending_review"] is True, res
    activation = res["result"]["activation_id"]
    # applied exactly once: the retry answers with the first result and records nothing more
    again = till.send("register", "spent-token-does-not-matter", op_id=op_id, phone=phone, card_number="10002",
                      consent=True, marketing=True)
    assert again == {"id": op_id, "status": "duplicate", "result": res["result"]}
    assert pending_ids(server).count(activation) == 1
    card = till.card("10002")
    assert card["state"] == "issued" and card["phone_masked"] in (None, "")
    assert "STOP" not in server.last_sms(phone)["text"]  # the code, but no welcome for a card not active
    # a pre-issued card accrues meanwhile; the operator sees those bonuses in the list
    assert till.send("sale", card_number="10002", amount=50_000)["status"] == "applied"
    line = next(x for x in cli(server, "activations", "list").stdout.splitlines() if x.startswith(f"{activation}\t"))
    assert "card 10002\tbalance 5000\t+380 •• ••• •• 02" in line and "cashier Olena" in line
    assert "501230002" not in line

    out = cli(server, "activations", "approve", str(activation), "--by", "maria").stdout
    assert "card 10002 is active on +380 •• ••• •• 02" in out
    card = till.card("10002")
    assert card["state"] == "active" and card["phone_masked"] == "+380 •• ••• •• 02" and card["balance"] == 5000
    welcome = server.last_sms(phone)["text"]
    assert "STOP" in welcome and "10002" in welcome
    assert activation not in pending_ids(server)
    audit = cli(server, "audit", "10002").stdout
    assert ",register,applied," in audit and ",activation_approved,applied,,server,maria," in audit
    err = cli(server, "activations", "approve", str(activation), ok=False).stderr
    assert "activation_decided" in err and "approved by maria" in err


def test_the_entrance_kiosk_is_not_under_review(server, review):
    kiosk = Till(server, "entrance")
    assert kiosk.get("/config").json()["till_activation"] == "direct"
    res = kiosk.activate(server, "+380501230003", "10003")
    assert res["result"] == {"card_number": "10003"}


def test_a_tills_own_right_overrides_the_shop_setting(server, review):
    trusted, barred = Till(server), Till(server)
    cli(server, "devices", "till-activation", trusted.id, "direct")
    assert trusted.get("/config").json()["till_activation"] == "direct"
    assert trusted.activate(server, "+380501230004", "10004")["result"] == {"card_number": "10004"}

    token = barred.token(server, "register", "+380501230005", card_number="10005")
    cli(server, "devices", "till-activation", barred.id, "off")
    assert barred.get("/config").json()["till_activation"] == "off"
    assert f"{barred.id}\tcashier\tactive" in (listing := cli(server, "devices", "list").stdout)
    assert "till_activation=off" in next(x for x in listing.splitlines() if x.startswith(barred.id))
    r = barred.post("/otp", {"phone": "+380501230006", "purpose": "register", "card_number": "10006"})
    assert (r.status_code, r.json()["error"]) == (403, "till_activation_off")  # no SMS is sent for nothing
    res = barred.send("register", token, phone="+380501230005", card_number="10005", consent=True)
    assert (res["status"], res["error"]) == ("rejected", "till_activation_off")
    # the refusal did not spend the customer's code: back under the shop's rule, the same token works
    cli(server, "devices", "till-activation", barred.id, "shop")
    assert barred.get("/config").json()["till_activation"] == "review"
    res = barred.send("register", token, phone="+380501230005", card_number="10005", consent=True)
    assert res["status"] == "applied" and res["result"]["pending_review"] is True
    assert "device_not_found" in cli(server, "devices", "till-activation", "nope", "off", ok=False).stderr


def test_approval_checks_one_phone_one_card_again_and_reject_records_why(server, review):
    till, kiosk = Till(server), Till(server, "entrance")
    phone, other_phone = "+380501230007", "+380501230008"
    first = till.activate(server, phone, "10007")["result"]["activation_id"]
    second = till.activate(server, other_phone, "10008")["result"]["activation_id"]
    # meanwhile the customer activates another card at the entrance, and card 10008 goes to someone else
    assert kiosk.activate(server, phone, "10009")["status"] == "applied"
    assert kiosk.activate(server, "+380501230010", "10008")["status"] == "applied"

    err = cli(server, "activations", "approve", str(first), ok=False).stderr
    assert "phone_has_card" in err and "card 10009" in err and f"activation {first} cannot be approved" in err
    err = cli(server, "activations", "approve", str(second), ok=False).stderr
    assert "card_bound_to_other" in err
    assert first in pending_ids(server) and till.card("10007")["state"] == "issued"

    cli(server, "activations", "reject", str(first), "--by", "maria", "--reason", "customer uses card 10009")
    assert first not in pending_ids(server) and till.card("10007")["state"] == "issued"
    everything = cli(server, "activations", "list", "--all").stdout
    assert "rejected by maria" in everything and "customer uses card 10009" in everything
    assert ",activation_rejected,applied,,server,maria," in cli(server, "audit", "10007").stdout
    assert "activation_decided" in cli(server, "activations", "reject", str(first), "--reason", "x", ok=False).stderr
    assert "activation_not_found" in cli(server, "activations", "approve", "99999", ok=False).stderr
    assert cli(server, "activations", "reject", str(second), ok=False).returncode == 2  # --reason is required


def test_one_waiting_activation_per_card_and_per_phone(server, review):
    till = Till(server)
    first = till.activate(server, "+380501230011", "10011")["result"]
    # the cashier sends the same customer again: the same waiting request, not a second one
    assert till.activate(server, "+380501230011", "10011")["result"] == first
    res = till.activate(server, "+380501230012", "10011")
    assert (res["status"], res["error"]) == ("rejected", "activation_pending")
    res = till.activate(server, "+380501230011", "10012")
    assert (res["status"], res["error"]) == ("rejected", "activation_pending")
    # a phone that already has an active card is refused at once, as a direct activation would be
    res = till.activate(server, "+380501230001", "10013")
    assert (res["status"], res["error"]) == ("rejected", "phone_has_card")


def test_with_a_gsm_modem_the_cli_leaves_the_port_to_the_server(server, review, tmp_path):
    till, phone = Till(server), "+380501230014"
    activation = till.activate(server, phone, "10014")["result"]["activation_id"]
    modem_config = tmp_path / "modem.toml"
    modem_config.write_text(server.config_path.read_text(encoding="utf-8")
                            + '\n[[sms.gateways]]\ntype = "gsm_modem"\nport = "/dev/ttyUSB-not-here"\n',
                            encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(modem_config), "activations",
                           "approve", str(activation), "--by", "maria"], capture_output=True, text=True)
    assert proc.returncode == 0 and "GSM modem belongs to the running server" in proc.stderr, proc.stderr
    assert till.card("10014")["state"] == "active"
    assert "STOP" not in server.last_sms(phone)["text"]


def test_the_setting_is_checked(server):
    refused = cli(server, "settings", "set", "till_activation", "maybe", ok=False).stderr
    assert "till_activation: Input should be 'direct', 'review' or 'off'" in refused
    assert "till_activation = direct  (default)" in cli(server, "settings", "show").stdout


# --- the same rules in process, on SQLite and (KIOSK_TEST_PG=1) PostgreSQL ---------------------------------------

def test_approval_binds_as_a_direct_activation_would(shop_db):
    shop_db.put("till_activation", "review")
    shop_db.put("questionnaire", [{"key": "pet", "type": "choice", "choices": ["cat", "dog"]}])
    phone = "+380501239001"
    res = shop_db.op("register", device=CASHIER, token=token_for(shop_db, phone, card="10050"), cashier="Olena",
                     phone=phone, card_number="10050", consent=True, marketing=True, answers={"pet": "cat"})
    assert res["result"]["pending_review"] is True
    with shop_db.engine.connect() as conn:
        assert conn.execute(select(customers).where(customers.c.phone == phone)).first() is None
        [row] = till_activation.listing(conn)
        assert (row["card_number"], row["cashier"], row["device_id"]) == ("10050", "Olena", CASHIER["id"])
    approved_at = datetime.now(UTC)
    till_activation.approve(shop_db.engine, row["id"], by="maria")
    with shop_db.engine.connect() as conn:
        customer = conn.execute(select(customers).where(customers.c.phone == phone)).mappings().one()
        card = conn.execute(select(cards_table).where(cards_table.c.number == "10050")).mappings().one()
        answers = dict(conn.execute(select(customer_answers.c.field, customer_answers.c.value)
                                    .where(customer_answers.c.customer_id == customer["id"])).all())
        audit = conn.execute(select(operations.c.type, operations.c.cashier)
                             .where(operations.c.card_number == "10050")).all()
    assert card["state"] == "active" and card["customer_id"] == customer["id"]
    # consent was given at the till, the card became active on approval
    assert customer["consent_at"].replace(tzinfo=UTC) == shop_db.at and customer["marketing_opt_in"]
    assert card["activated_at"].replace(tzinfo=UTC) >= approved_at.replace(microsecond=0)
    assert answers == {"pet": "cat"}
    assert ("activation_approved", "maria") in audit and ("register", "Olena") in audit
    with pytest.raises(DomainError) as e:
        till_activation.approve(shop_db.engine, row["id"], by="maria")
    assert e.value.code == "activation_decided"


def test_a_bad_answer_is_refused_at_the_till_not_at_approval(shop_db):
    shop_db.put("till_activation", "review")
    phone = "+380501239002"
    res = shop_db.op("register", device=CASHIER, token=token_for(shop_db, phone, card="10051"),
                     phone=phone, card_number="10051", consent=True, answers={"shoe_size": 42})
    assert (res["status"], res["error"]) == ("rejected", "bad_answer")
    with shop_db.engine.connect() as conn:
        assert till_activation.listing(conn, everything=True) == []


def test_a_blocked_card_cannot_be_approved(shop_db):
    shop_db.put("till_activation", "review")
    phone = "+380501239003"
    res = shop_db.op("register", device=CASHIER, token=token_for(shop_db, phone, card="10052"),
                     phone=phone, card_number="10052", consent=True)
    with shop_db.engine.begin() as conn:
        conn.execute(cards_table.update().where(cards_table.c.number == "10052").values(state="blocked"))
    with pytest.raises(DomainError) as e:
        till_activation.approve(shop_db.engine, res["result"]["activation_id"], by="maria")
    assert e.value.code == "card_blocked"


def test_the_entrance_is_never_reviewed_and_overrides_need_a_known_device(shop_db):
    shop_db.put("till_activation", "off")
    phone = "+380501239004"
    res = shop_db.op("register", device=ENTRANCE, token=token_for(shop_db, phone, card="10053"),
                     phone=phone, card_number="10053", consent=True)
    assert res["result"] == {"card_number": "10053"}
    with shop_db.engine.begin() as conn:
        with pytest.raises(DomainError):
            till_activation.set_device_mode(conn, CASHIER["id"], "direct")
        conn.execute(devices.insert().values(id=CASHIER["id"], name="till", role="cashier", key_hash="x" * 64,
                                             created_at=shop_db.at, shop=shops.ensure_default(conn)))
        till_activation.set_device_mode(conn, CASHIER["id"], "direct")
        assert till_activation.mode_for(conn, CASHIER) == "direct"
        with pytest.raises(DomainError):
            till_activation.set_device_mode(conn, CASHIER["id"], "sometimes")


def test_the_database_keeps_one_waiting_activation_per_card(shop_db):
    """The backstop for two server processes (or PostgreSQL sessions) that both passed the check at once."""
    shop_db.put("till_activation", "review")
    res = shop_db.op("register", device=CASHIER, token=token_for(shop_db, "+380501239005", card="10054"),
                     phone="+380501239005", card_number="10054", consent=True)
    first = res["result"]["activation_id"]
    other_op = shop_db.op("sale", card_number="10054", amount=100)["id"]
    row = dict(operation_id=other_op, card_number="10054", phone="+380501239006", device_id="till-2", details={},
               at=shop_db.at, state="pending")
    with pytest.raises(IntegrityError), shop_db.engine.begin() as conn:
        conn.execute(insert(till_activations).values(**row))
    till_activation.reject(shop_db.engine, first, by="maria", reason="wrong phone")
    with shop_db.engine.begin() as conn:  # decided ones do not count
        conn.execute(insert(till_activations).values(**row))
