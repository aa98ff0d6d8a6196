"""Answers added right after "Find my card" (issue 18), against a real server: the customer has just proved the
card's phone with a code, so the answers go with that code's unspent token and no second SMS is sent; the token
works once, and an old one is not offered at all."""

from __future__ import annotations

import dataclasses
import json
import time

from kiosk.backend import CardView
from kiosk.flows.cashier import refresh_shop_config, shop_config
from kiosk.flows.details import PROOF_SECONDS, DetailsFlow, DetailsState, missing_fields, proof_seconds, reusable_proof
from kiosk.flows.find_card import FindCardFlow, FindState
from tests.kiosk import test_flow_details as registration

# The same real-server entrance backend (fixture), questionnaire and registration as the details flow's tests.
backend, FIELDS, register = registration.backend, registration.FIELDS, registration.register
PHONE = "+380679990032"
SHORT_PHONE = "+380679990033"


OTP = {"resend_after_seconds": 1, "sends_per_phone_15min": 50, "sends_per_phone_day": 50}  # the fixture's


def _sms_count(store_server, phone: str = PHONE) -> int:
    lines = store_server.sms_file.read_text(encoding="utf-8").splitlines()
    return sum(json.loads(line)["to"] == phone for line in lines)


def _found(backend, store_server, phone: str = PHONE, card: str = "10042"):
    """Registered (no answers: the registration asked none), then found again by phone and code."""
    register(backend, store_server, phone, card)
    time.sleep(1.05)  # the shop's pause between two codes to one phone (shortened)
    find = FindCardFlow(backend)
    for key in phone:
        find.press(key)
    assert find.submit_phone() is FindState.CODE, find.error
    for key in store_server.last_code(phone):
        find.press(key)
    assert find.submit_code() is FindState.FOUND, find.error
    return find.view


def _answer_name(flow: DetailsFlow, name: str) -> None:
    flow.questions.type_text(name)
    assert flow.questions.answer()
    flow.questions.skip()  # the pet another time


def _choose_dog(flow: DetailsFlow) -> None:
    assert flow.questions.field["key"] == "pet"
    flow.questions.choose("dog")
    assert flow.questions.done and flow.questions.answers["pet"] == "dog"


def test_answers_after_find_my_card_go_with_its_token_without_a_second_sms(backend, store_server):
    view = _found(backend, store_server)
    assert view.card["answered"] == [] and view.proof
    proof = reusable_proof(view)
    assert proof == view.proof
    sent = _sms_count(store_server)

    flow = DetailsFlow(backend, view.card["number"], missing_fields(FIELDS, view.card), proof=proof)
    _answer_name(flow, "Olena")
    assert flow.finish_questions() is DetailsState.DONE, flow.error
    assert flow.used_proof and flow.code is None and flow.proof is None
    backend.sync.drain()
    assert flow.settle() and flow.outcome.status == "done", flow.outcome
    assert _sms_count(store_server) == sent  # no code was asked for
    assert backend.lookup_card(view.card["number"]).card["answered"] == ["name"]

    # the token is spent: queued again, the server refuses it (the app drops it from the card view once used)
    again = DetailsFlow(backend, view.card["number"], missing_fields(FIELDS, {**view.card, "answered": ["name"]}),
                        proof=proof)
    _choose_dog(again)
    assert again.finish_questions() is DetailsState.DONE
    backend.sync.drain()
    assert again.settle() and again.outcome.status == "refused" and again.outcome.error == "verification_used"
    assert backend.lookup_card(view.card["number"]).card["answered"] == ["name"]

    # without a token the code goes to the card's phone as usual
    time.sleep(1.05)
    third = DetailsFlow(backend, view.card["number"], missing_fields(FIELDS, {**view.card, "answered": ["name"]}),
                        proof=reusable_proof(dataclasses.replace(view, proof=None)))
    _choose_dog(third)
    assert third.finish_questions() is DetailsState.CODE, third.error
    assert _sms_count(store_server) == sent + 1


def test_only_a_fresh_token_of_the_cards_owner_is_offered():
    now = time.time()
    own = CardView({"number": "10042", "state": "active", "answered": []}, False, now, own=True, proof="t")
    assert reusable_proof(own, now=now + PROOF_SECONDS - 1) == "t"
    assert reusable_proof(own, now=now + PROOF_SECONDS + 1) is None  # a fresh code rather than a refusal later
    assert reusable_proof(dataclasses.replace(own, own=False)) is None  # a scanned card: whoever holds it
    assert reusable_proof(dataclasses.replace(own, proof=None)) is None
    assert reusable_proof(None) is None


def test_the_token_lasts_as_long_as_the_server_says():
    assert proof_seconds({}) == PROOF_SECONDS  # an older server: its token_ttl is 10 minutes
    assert proof_seconds({"otp": {"token_seconds": 600}}) == PROOF_SECONDS
    assert proof_seconds({"otp": {"token_seconds": 60}}) == 40  # the answers' way is kept back
    assert proof_seconds({"otp": {"token_seconds": 15}}) == 0  # too short to reuse at all: always a code
    assert proof_seconds({"otp": {"token_seconds": "60"}}) == PROOF_SECONDS


def test_a_shop_whose_codes_last_60_seconds_gets_a_fresh_code_after_40(backend, store_server):
    """The shop's token_ttl is 60 s: the kiosk learns it from /config, reuses Find my card's token only within
    40 s of the code, and a customer who took longer over the questions gets a code instead of a refusal."""
    store_server.cli("settings", "set", "otp", json.dumps({**OTP, "token_ttl_seconds": 60}))
    try:
        assert refresh_shop_config(backend)["otp"]["token_seconds"] == 60
        lifetime = proof_seconds(shop_config(backend))
        assert lifetime == 40
        view = _found(backend, store_server, SHORT_PHONE, "10043")
        assert reusable_proof(view, now=view.fetched_at + 39, lifetime=lifetime) == view.proof
        assert reusable_proof(view, now=view.fetched_at + 40, lifetime=lifetime) is None
        assert reusable_proof(view, now=view.fetched_at + 100) == view.proof  # what the kiosk assumed before

        # offered when the card was shown, but the answers took 45 s: the code goes to the card's phone
        sent, clock = _sms_count(store_server, SHORT_PHONE), [view.fetched_at + 45]
        flow = DetailsFlow(backend, view.card["number"], missing_fields(FIELDS, view.card),
                           proof=reusable_proof(view, now=view.fetched_at, lifetime=lifetime),
                           proof_until=view.fetched_at + lifetime, clock=lambda: clock[0])
        assert flow.proof == view.proof
        _answer_name(flow, "Olena")
        time.sleep(1.05)  # the shop's pause between two codes to one phone (shortened)
        assert flow.finish_questions() is DetailsState.CODE, flow.error
        assert not flow.used_proof and _sms_count(store_server, SHORT_PHONE) == sent + 1
        for key in store_server.last_code(SHORT_PHONE):
            flow.press(key)
        assert flow.submit_code() is DetailsState.DONE, flow.error
        backend.sync.drain()
        assert flow.settle() and flow.outcome.status == "done", flow.outcome
        assert backend.lookup_card(view.card["number"]).card["answered"] == ["name"]
    finally:
        store_server.cli("settings", "set", "otp", json.dumps(OTP))
