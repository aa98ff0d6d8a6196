"""Answers added right after "Find my card" (issue 18), against a real server: the customer has just proved the
card's phone with a code, so the answers go with that code's unspent token and no second SMS is sent; the token
works once, and an old one is not offered at all."""

from __future__ import annotations

import dataclasses
import json
import time

from kiosk.backend import CardView
from kiosk.flows.details import PROOF_SECONDS, DetailsFlow, DetailsState, missing_fields, reusable_proof
from kiosk.flows.find_card import FindCardFlow, FindState
from tests.kiosk import test_flow_details as registration

# The same real-server entrance backend (fixture), questionnaire and registration as the details flow's tests.
backend, FIELDS, register = registration.backend, registration.FIELDS, registration.register
PHONE = "+380679990032"


def _sms_count(store_server) -> int:
    lines = store_server.sms_file.read_text(encoding="utf-8").splitlines()
    return sum(json.loads(line)["to"] == PHONE for line in lines)


def _found(backend, store_server):
    """Registered (no answers: the registration asked none), then found again by phone and code."""
    register(backend, store_server, PHONE, "10042")
    time.sleep(1.05)  # the shop's pause between two codes to one phone (shortened)
    find = FindCardFlow(backend)
    for key in PHONE:
        find.press(key)
    assert find.submit_phone() is FindState.CODE, find.error
    for key in store_server.last_code(PHONE):
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
