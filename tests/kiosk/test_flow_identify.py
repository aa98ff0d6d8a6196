"""Identify by a number typed on the numpad, against a real store server: the card number anywhere, the phone
only at the till (the server refuses an entrance kiosk too), and what was typed survives a mistake."""

from __future__ import annotations

import pytest

from kiosk.flows.identify import IdentifyFlow, IdentifyState
from kiosk.flows.register import RegisterFlow, RegisterState
from tests.kiosk.test_till_against_server import device, type_in

PHONE = "+380671112244"
CARD = "10060"


@pytest.fixture(scope="module")
def devices(store_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("identify")
    # typing, slips and refusals are the subject here; the customer's code for a phone look-up (the shop's
    # default) is tested in test_till_against_server.py
    store_server.cli("settings", "set", "identify_code_required", "false")
    entrance = device(store_server, tmp, "entrance", "entrance")
    flow = RegisterFlow(entrance, card_number=CARD)
    type_in(flow, PHONE)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    type_in(flow, store_server.last_code(PHONE))
    assert flow.submit_code() is RegisterState.DONE, flow.error
    entrance.sync.drain()
    return entrance, device(store_server, tmp, "cashier", "till")


def test_card_number_typed_at_the_entrance_shows_the_card(devices):
    entrance, _till = devices
    flow = IdentifyFlow(entrance)
    flow.start_typing("card")
    type_in(flow, "1006")
    flow.press("+")  # no '+' in a card number
    type_in(flow, "0777")  # one key too many: not one of the shop's cards
    assert flow.typed == "10060777"
    assert flow.submit_typed() is IdentifyState.NOT_FOUND and flow.error == "card_not_found"
    assert flow.typed == "10060777"  # kept: a slip is fixed, not typed again
    for _ in range(3):
        flow.press("back")
    assert flow.error is None
    assert flow.submit_typed() is IdentifyState.CARD
    assert flow.card["number"] == CARD and flow.card["phone_masked"].endswith("44")


def test_empty_number_asks_for_one(devices):
    flow = IdentifyFlow(devices[0])
    flow.start_typing("card")
    assert flow.submit_typed() is IdentifyState.IDLE and flow.error == "number_missing"


def test_the_entrance_cannot_look_up_by_phone(devices):
    entrance, _till = devices
    with pytest.raises(PermissionError):
        IdentifyFlow(entrance).start_typing("phone", role="entrance")
    # and were the kiosk tampered with, the server says no as well
    flow = IdentifyFlow(entrance)
    flow.start_typing("phone", role="cashier")
    type_in(flow, PHONE)
    assert flow.submit_typed() is IdentifyState.ERROR and flow.error == "role_not_allowed"
    assert flow.card is None


def test_the_till_finds_the_customer_by_phone_in_national_format(devices):
    _entrance, till = devices
    flow = IdentifyFlow(till)
    flow.start_typing("phone", role="cashier")
    type_in(flow, "0671112299")
    assert flow.submit_typed() is IdentifyState.NOT_FOUND and flow.error == "customer_not_found"
    for _ in range(2):
        flow.press("back")
    type_in(flow, "44")
    assert flow.submit_typed() is IdentifyState.CARD and flow.card["number"] == CARD
    assert PHONE not in str(flow.card) and till.store.cached_card(CARD) is not None


def test_a_bad_phone_is_caught_before_the_server(devices):
    flow = IdentifyFlow(devices[1])
    flow.start_typing("phone", role="cashier")
    flow.press("+")
    type_in(flow, "12")
    assert flow.typed == "+12"
    assert flow.submit_typed() is IdentifyState.ERROR and flow.error == "invalid_phone"


def test_going_home_forgets_what_was_typed(devices):
    flow = IdentifyFlow(devices[1])
    flow.start_typing("phone", role="cashier")
    type_in(flow, "067")
    flow.reset()
    assert (flow.typed, flow.typing) == ("", None)
