"""The digital card's secrets on a real SQLite file: page links and short-lived signed QR tokens."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from store_server import cards, digital_card, shop
from store_server.data.db import create_schema, make_engine, settings
from store_server.errors import DomainError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(eng)
    with eng.begin() as conn:
        shop.seed_demo(conn, "Kavun")
    yield eng
    eng.dispose()


def refusal(conn, token: str, now: datetime = NOW) -> str:
    with pytest.raises(DomainError) as e:
        digital_card.resolve(conn, token, now)
    return e.value.code


def test_a_token_carries_its_card_until_it_expires(engine):
    with engine.begin() as conn:
        token, expires = digital_card.qr_token(conn, "10001", NOW)
        assert expires == int(NOW.timestamp()) + 600  # the default: ten minutes
        assert digital_card.resolve(conn, token, NOW + timedelta(minutes=10)) == "10001"
        assert refusal(conn, token, NOW + timedelta(minutes=10, seconds=1)) == "card_qr_expired"


def test_the_shop_sets_how_long_a_token_lives(engine):
    with engine.begin() as conn:
        shop.put(conn, "card_qr_minutes", 2)
        token, _ = digital_card.qr_token(conn, "10001", NOW)
        assert digital_card.resolve(conn, token, NOW + timedelta(seconds=119)) == "10001"
        assert refusal(conn, token, NOW + timedelta(seconds=121)) == "card_qr_expired"


def test_a_changed_token_is_refused(engine):
    with engine.begin() as conn:
        token, _ = digital_card.qr_token(conn, "10001", NOW)
        body, mac = token.split(".")
        # another card, or the same card with a later expiry, under the genuine signature
        other = base64.urlsafe_b64encode(f"10002.{int(NOW.timestamp()) + 600}".encode()).rstrip(b"=").decode()
        later = base64.urlsafe_b64encode(f"10001.{int(NOW.timestamp()) + 99999}".encode()).rstrip(b"=").decode()
        flipped = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
        for forged in (f"{other}.{mac}", f"{later}.{mac}", f"{body}.{flipped}", f"{body}.{mac[:-1]}", body,
                       "10001", "", f"{body}..{mac}"):
            assert refusal(conn, forged) == "card_qr_invalid", forged


def test_a_token_of_another_shop_is_refused(engine, tmp_path):
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    create_schema(other)
    with other.begin() as conn:
        token, _ = digital_card.qr_token(conn, "10001", NOW)
    other.dispose()
    with engine.begin() as conn:
        digital_card.qr_token(conn, "10001", NOW)  # this shop has its own secret by now
        assert refusal(conn, token) == "card_qr_invalid"


def test_no_token_is_valid_before_the_shop_made_its_secret(engine):
    with engine.connect() as conn:
        assert refusal(conn, "MTAwMDEuMTc5NTAwMDAwMA.AAAAAAAAAAAAAAAAAAAAAA") == "card_qr_invalid"
        assert conn.execute(select(settings.c.value).where(
            settings.c.key == digital_card.SECRET_SETTING)).scalar() is None  # a look-up never writes


def test_the_secret_is_made_once_kept_and_hidden_from_the_settings_cli(engine):
    with engine.begin() as conn:
        first = digital_card.secret(conn)
    with engine.begin() as conn:
        assert digital_card.secret(conn) == first
    assert len(first) >= 43 and not first.startswith("-")
    assert digital_card.SECRET_SETTING not in shop.DEFAULTS  # `store-server settings show` lists DEFAULTS


def test_a_link_is_stable_unguessable_and_leads_back_to_its_card(engine):
    with engine.begin() as conn:
        link = digital_card.link_id(conn, "9000000001")
        assert digital_card.link_id(conn, "9000000001") == link  # the same link in every SMS
        assert digital_card.link_id(conn, "9000000002") != link
        assert "9000000001" not in link and len(link) <= 28
        assert digital_card.number_for_link(conn, link) == "9000000001"
        # one character off anywhere, or a made-up id, leads nowhere
        for i in range(len(link)):
            changed = link[:i] + ("A" if link[i] != "A" else "B") + link[i + 1:]
            assert digital_card.number_for_link(conn, changed) is None, changed
        for made_up in ("", "x", "A" * 26, "!!!!", "A" * 500):
            assert digital_card.number_for_link(conn, made_up) is None


def test_a_link_needs_the_shops_public_url(engine):
    with engine.begin() as conn:
        assert digital_card.card_link(conn, "10001") is None
        shop.put(conn, "public_url", "shop.example")  # no scheme: a phone could not open it
        assert digital_card.card_link(conn, "10001") is None
        shop.put(conn, "public_url", "https://loyalty.shop.example/")
        link = digital_card.card_link(conn, "10001")
        assert link == f"https://loyalty.shop.example/c/{digital_card.link_id(conn, '10001')}"


def test_a_card_number_never_looks_like_a_token(engine):
    with engine.begin() as conn:
        token, _ = digital_card.qr_token(conn, "4820000012345", NOW)
    assert digital_card.is_token(token)
    assert not any(digital_card.is_token(n) for n in cards.range_numbers(10001, 10100))
    assert not digital_card.is_token("LK10001") and not digital_card.is_token("4820000012345")


def test_a_card_activated_by_sms_is_welcomed_with_its_link(engine):
    from store_server.messaging import activation
    from store_server.messaging.sms import templates

    with engine.begin() as conn:
        shop.put(conn, "public_url", "https://loyalty.shop.example")
        outcome = activation.activate(conn, "+380671239901", "10042", at=NOW)
        link = digital_card.card_link(conn, "10042")
    assert outcome.outcome == "activated" and outcome.values["link"] == link
    welcome = templates.render(outcome.reply, "ru", shop="Kavun", **outcome.values)
    assert link in welcome.split() and "10042" in welcome and "STOP" in welcome
