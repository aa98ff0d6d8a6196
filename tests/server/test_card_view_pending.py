"""The card view says when a till's activation waits for an operator's review (and since when), by card number
and by the phone the till sent, until the operator decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.server.test_till_activation import Till, cli, pending_ids
from tests.support.server import init_demo_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("card-view-pending"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write("\n[otp]\nresend_after_seconds = 1\nsends_per_device_hour = 1000\n")
    srv.start()
    cli(srv, "settings", "set", "till_activation", "review")
    # Finding by phone without the customer's code is what this module looks at (the code: test_customer_lookup).
    cli(srv, "settings", "set", "identify_code_required", "false")
    yield srv
    srv.stop()


def test_a_card_waiting_for_review_says_so_until_approved(server):
    till, phone = Till(server), "+380501240001"
    before = till.card("10001")
    assert before["activation_pending"] is False and before["activation_requested_at"] is None
    sent = datetime.now(UTC)
    res = till.activate(server, phone, "10001")
    assert res["result"]["pending_review"] is True, res

    card = till.card("10001")
    assert card["state"] == "issued" and card["activation_pending"] is True
    requested = datetime.fromisoformat(card["activation_requested_at"])
    assert requested.tzinfo is not None and abs(requested - sent) < timedelta(seconds=30)
    # The cashier who sent it finds it by the phone: the waiting card, not "no card for this phone".
    by_phone = till.get("/customers?phone=0501240001")
    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.json()["number"] == "10001" and by_phone.json()["activation_pending"] is True

    cli(server, "activations", "approve", str(res["result"]["activation_id"]), "--by", "maria")
    card = till.card("10001")
    assert (card["state"], card["activation_pending"], card["activation_requested_at"]) == ("active", False, None)
    assert till.get(f"/customers?phone={phone}").json()["activation_pending"] is False


def test_a_rejected_activation_no_longer_waits(server):
    till, phone = Till(server), "+380501240002"
    activation = till.activate(server, phone, "10002")["result"]["activation_id"]
    assert till.card("10002")["activation_pending"] is True
    cli(server, "activations", "reject", str(activation), "--by", "maria", "--reason", "wrong phone")
    assert activation not in pending_ids(server)
    card = till.card("10002")
    assert (card["state"], card["activation_pending"]) == ("issued", False)
    r = till.get(f"/customers?phone={phone}")
    assert (r.status_code, r.json()["error"]) == (404, "customer_not_found")


def test_an_untouched_card_and_an_unknown_phone_answer_as_before(server):
    till = Till(server)
    assert till.get("/customers?phone=+380501249999").status_code == 404
    card = till.card("10003")
    assert (card["activation_pending"], card["activation_requested_at"]) == (False, None)
