"""Cards and customers: types, ranges (EAN-13), states, one phone <-> one active card, extra numbers,
questionnaire answers, consent and marketing timestamps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from store_server import cards, customers
from store_server.data.db import customer_answers
from store_server.data.db import customers as customers_table
from store_server.errors import DomainError
from store_server.messaging import codes as otp
from tests.server.conftest import ENTRANCE

SECRET = "test-secret"
# The resend pause is the SMS subject's to test; here the same phone asks again at once.
POLICY = dataclasses.replace(otp.OtpPolicy(), resend_after=timedelta(0))


def token_for(shop_db, phone: str, purpose: str = "register", card: str | None = None) -> str:
    with shop_db.engine.begin() as conn:
        challenge, code = otp.create_challenge(conn, secret_key=SECRET, phone=phone, purpose=purpose,
                                               device_id=ENTRANCE["id"], card_number=card, policy=POLICY)
        return otp.check(conn, secret_key=SECRET, challenge_id=challenge["challenge_id"],
                         code=code)["verification_token"]


def register(shop_db, phone: str, card: str, **extra) -> dict:
    return shop_db.op("register", device=ENTRANCE, token=token_for(shop_db, phone, card=card),
                      phone=phone, card_number=card, **extra)


def test_ean13_check_digit_and_ranges():
    assert cards.ean13("400638133393") == "4006381333931"
    assert cards.is_ean13("4006381333931") and not cards.is_ean13("4006381333932")
    numbers = cards.range_numbers(1, 3, ean13_prefix="2990")
    assert numbers[0].startswith("299000000001") and all(cards.is_ean13(n) for n in numbers)
    with pytest.raises(DomainError):
        cards.range_numbers(1, 10**9, ean13_prefix="29900")


def test_bulk_range_is_idempotent_and_takes_the_card_type(shop_db):
    with shop_db.engine.begin() as conn:
        cards.create_type(conn, "staff", "discount", 15)
        assert cards.issue_range(conn, 20001, 30000, card_type="staff") == 10_000
        assert cards.issue_range(conn, 29991, 30010, card_type="staff") == 10
        card = cards.get_card(conn, "25000")
        with pytest.raises(DomainError):
            cards.issue_range(conn, 1, 2, card_type="nope")
    assert (card["kind"], card["discount_percent"], card["card_type"], card["state"]) == \
        ("discount", 15, "staff", "issued")


def test_one_phone_one_active_card_and_states(shop_db):
    assert register(shop_db, "+380501112233", "10001")["status"] == "applied"
    second = register(shop_db, "+380501112233", "10002")
    assert second["error"] == "phone_has_card"
    other = register(shop_db, "+380671112233", "10001")
    assert other["error"] == "card_bound_to_other"
    with shop_db.engine.begin() as conn:
        cards.set_state(conn, "10001", "blocked")
    assert shop_db.op("sale", card_number="10001", amount=100)["error"] == "card_blocked"
    # with the old card blocked, the customer may move to a new one; the old one cannot come back active
    assert register(shop_db, "+380501112233", "10002")["status"] == "applied"
    with shop_db.engine.begin() as conn, pytest.raises(DomainError) as e:
        cards.set_state(conn, "10001", "active")
    assert e.value.code == "phone_has_card"


def test_extra_numbers_resolve_to_the_main_card(shop_db):
    with shop_db.engine.begin() as conn:
        cards.add_number(conn, "10001", "OLD-777")
        with pytest.raises(DomainError):
            cards.add_number(conn, "10002", "OLD-777")
        with pytest.raises(DomainError):
            cards.add_number(conn, "10002", "10001")
    shop_db.ok("sale", card_number="OLD-777", amount=10_000)
    assert shop_db.balance("10001") == 1_000
    spent = shop_db.ok("redeem", card_number="OLD-777", amount=400)
    assert shop_db.ok("cancel", operation_id=spent["id"])["result"]["balance"] == 1_000
    with shop_db.engine.connect() as conn:
        assert cards.get_card(conn, "OLD-777")["number"] == "10001"


QUESTIONS = [
    {"key": "name", "label": "Name", "type": "text"},
    {"key": "kids", "label": "Children", "type": "number"},
    {"key": "birthday", "label": "Birthday", "type": "date"},
    {"key": "pet", "label": "Pet", "type": "choice", "choices": ["cat", "dog"], "required": True},
]


def answers_of(shop_db, phone):
    with shop_db.engine.connect() as conn:
        cid = conn.execute(select(customers_table.c.id).where(customers_table.c.phone == phone)).scalar_one()
        return dict(conn.execute(select(customer_answers.c.field, customer_answers.c.value)
                                 .where(customer_answers.c.customer_id == cid)).all())


def test_questionnaire_answers_are_typed_and_all_or_nothing(shop_db):
    shop_db.put("questionnaire", customers.check_questionnaire(QUESTIONS))
    bad = register(shop_db, "+380501112244", "10003", answers={"name": "Olena", "pet": "fish"})
    assert bad["error"] == "bad_answer"
    with shop_db.engine.connect() as conn:
        assert cards.get_card(conn, "10003")["state"] == "issued"  # nothing of the rejected registration stays
    ok = register(shop_db, "+380501112244", "10003",
                  answers={"name": " Olena ", "kids": "2", "birthday": "1990-05-01", "pet": "cat"})
    assert ok["status"] == "applied", ok
    assert answers_of(shop_db, "+380501112244") == {"name": "Olena", "kids": "2", "birthday": "1990-05-01",
                                                    "pet": "cat"}
    upd = shop_db.op("update_customer", device=ENTRANCE, card_number="10003", answers={"kids": 3, "name": ""})
    assert upd["status"] == "applied"
    assert answers_of(shop_db, "+380501112244") == {"kids": "3", "birthday": "1990-05-01", "pet": "cat"}
    for bad_answers in ({"kids": "many"}, {"birthday": "yesterday"}, {"shoe": "42"}, ["kids"]):
        assert shop_db.op("update_customer", device=ENTRANCE, card_number="10003",
                          answers=bad_answers)["error"] == "bad_answer"
    with pytest.raises(DomainError):
        customers.check_questionnaire([{"key": "x", "type": "choice", "choices": []}])
    # the birthday picker's youngest age: whole years, on a date field only
    assert customers.check_questionnaire([{"key": "born", "type": "date", "min_age": 18}])
    for age, kind in ((0, "date"), (121, "date"), ("18", "date"), (18.5, "date"), (True, "date"), (18, "text")):
        with pytest.raises(DomainError, match="min_age"):
            customers.check_questionnaire([{"key": "born", "type": kind, "min_age": age}])


def test_consent_and_marketing_carry_timestamps(shop_db):
    at = shop_db.at
    assert register(shop_db, "+380501112255", "10004", consent=True, marketing=False)["status"] == "applied"
    # The device says "in 300 days": the server stamps the choice with its own time.
    shop_db.ok("update_customer", device=ENTRANCE, card_number="10004", marketing=True, at=at + timedelta(days=300))
    with shop_db.engine.connect() as conn:
        row = conn.execute(select(customers_table).where(customers_table.c.phone == "+380501112255")).mappings().one()
    assert row["consent_at"].date() == at.date()
    assert row["marketing_opt_in"] is True
    assert row["marketing_opt_in_at"].date() == datetime.now(UTC).date()
    assert shop_db.op("update_customer", device=ENTRANCE, card_number="10004", marketing="yes")["error"] == \
        "bad_choice"
