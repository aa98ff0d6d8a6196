"""A till whose right is "review" (the server's till_activation): the registration done screen says the card
waits for the shop's approval, and the card screen says so until an operator approves, against a real server.
The device keeps the shop's /config as a real device does (runtime.provision)."""

from __future__ import annotations

import pytest

from kiosk.flows.balance import Balance
from kiosk.flows.cashier import refresh_shop_config, shop_config
from kiosk.flows.register import RegisterFlow, RegisterState
from tests.kiosk.test_till_against_server import device, type_in
from tests.support.server import free_port


@pytest.fixture(scope="module")
def review(store_server):
    store_server.cli("settings", "set", "till_activation", "review")
    yield store_server
    store_server.cli("settings", "set", "till_activation", "direct")


def register(server, backend, phone: str, card: str) -> RegisterFlow:
    flow = RegisterFlow(backend, card_number=card)
    type_in(flow, phone)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    type_in(flow, server.last_code(phone))
    assert flow.submit_code() is RegisterState.DONE, flow.error
    backend.sync.drain()
    assert backend.store.counts()["failed"] == 0, backend.store.failed()
    return flow


def summary(backend, card: str, role: str) -> Balance:
    return Balance.of(backend.lookup_card(card), role=role,
                      till_activation=shop_config(backend).get("till_activation", "direct"))


def test_under_review_the_till_says_the_card_waits_until_the_operator_approves(review, tmp_path):
    till = device(review, tmp_path, "cashier", "till")
    assert shop_config(till)["till_activation"] == "review"
    flow = register(review, till, "+380671114401", "10071")
    assert flow.pending_review

    b = summary(till, "10071", "cashier")
    assert (b.state, b.notice, b.can_activate) == ("issued", "activation_waits_for_approval", False)
    entrance = device(review, tmp_path, "entrance", "entrance")
    assert summary(entrance, "10071", "entrance").notice == "activation_waits_for_approval"

    waiting = review.cli("activations", "list").splitlines()
    activation = next(line.split("\t")[0] for line in waiting if "card 10071" in line)
    review.cli("activations", "approve", activation, "--by", "maria")
    b = summary(till, "10071", "cashier")
    assert (b.state, b.notice, b.can_activate) == ("active", None, False)


def test_the_entrance_kiosk_and_a_direct_till_say_the_card_is_active(review, tmp_path):
    entrance = device(review, tmp_path, "entrance", "entrance")
    assert not register(review, entrance, "+380671114402", "10072").pending_review
    assert summary(entrance, "10072", "entrance").state == "active"

    review.cli("settings", "set", "till_activation", "direct")
    try:
        till = device(review, tmp_path, "cashier", "direct-till")
        assert not register(review, till, "+380671114403", "10073").pending_review
        assert summary(till, "10073", "cashier").state == "active"
    finally:
        review.cli("settings", "set", "till_activation", "review")


def test_a_till_enrolled_before_the_right_changed_asks_the_server_again(review, tmp_path):
    review.cli("settings", "set", "till_activation", "direct")
    try:
        till = device(review, tmp_path, "cashier", "early-till")
        assert shop_config(till)["till_activation"] == "direct"
    finally:
        review.cli("settings", "set", "till_activation", "review")
    flow = register(review, till, "+380671114404", "10074")
    assert flow.pending_review and shop_config(till)["till_activation"] == "review"
    assert summary(till, "10074", "cashier").notice == "activation_waits_for_approval"


def test_when_the_server_stops_answering_the_devices_copy_decides(review, tmp_path):
    till = device(review, tmp_path, "cashier", "copy-till")
    assert refresh_shop_config(till)["till_activation"] == "review"
    till.client.base_url = f"http://127.0.0.1:{free_port()}/api/v1"  # nothing listens there
    assert refresh_shop_config(till)["till_activation"] == "review"


def test_the_servers_answer_corrects_the_done_screens_guess(review, tmp_path):
    """The right changed between the code check and the sync: the flow's guess was "waits for approval",
    the server activated the card directly, and the flow says so once the answer is in."""
    till = device(review, tmp_path, "cashier", "guess-till")
    flow = RegisterFlow(till, card_number="10075")
    type_in(flow, "+380671114405")
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    type_in(flow, review.last_code("+380671114405"))
    assert flow.submit_code() is RegisterState.DONE and flow.pending_review
    assert not flow.settle()  # nothing sent yet: the guess stands
    review.cli("settings", "set", "till_activation", "direct")
    try:
        till.sync.drain()
    finally:
        review.cli("settings", "set", "till_activation", "review")
    assert flow.settle() and not flow.pending_review and not flow.refused
    assert summary(till, "10075", "cashier").state == "active"
