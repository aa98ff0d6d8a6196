"""One-time codes against a real SQLite file, with the server's clock moved instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from store_server import clock, shop
from store_server.data.db import cards, create_schema, customers, make_engine, otp_challenges, verification_tokens
from store_server.errors import DomainError, TooMany
from store_server.messaging import codes as otp
from store_server.security import keyed_hash

KEY = "test-secret-key"
PHONE = "+380501234567"
OTHER = "+380671112233"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw) -> None:
        self.at += timedelta(**kw)


@pytest.fixture
def now(monkeypatch):
    c = Clock()
    monkeypatch.setattr(clock, "now", c)
    return c


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(eng)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with eng.begin() as conn:
        cid = conn.execute(insert(customers).values(phone=PHONE, created_at=at, consent_at=at)).inserted_primary_key[0]
        oid = conn.execute(insert(customers).values(phone=OTHER, created_at=at, consent_at=at)).inserted_primary_key[0]
        conn.execute(insert(cards), [
            dict(number="10001", state="active", customer_id=cid, created_at=at),
            dict(number="10002", state="active", customer_id=oid, created_at=at),
            dict(number="10003", state="issued", customer_id=None, created_at=at),
        ])
    yield eng
    eng.dispose()


def challenge(conn, phone=PHONE, purpose="register", device="dev-1", **kw):
    return otp.create_challenge(conn, secret_key=KEY, phone=phone, purpose=purpose, device_id=device, **kw)


def check(conn, ch, code):
    return otp.check(conn, secret_key=KEY, challenge_id=ch["challenge_id"], code=code)


def test_code_is_six_digits_and_stored_only_as_a_keyed_hash(engine, now):
    with engine.begin() as conn:
        ch, code = challenge(conn)
        row = conn.execute(select(otp_challenges)).mappings().one()
    assert len(code) == 6 and code.isdigit()
    assert code not in str(dict(row))
    assert row["code_hash"] == keyed_hash(KEY, ch["challenge_id"], code)
    # The same code under another server key gives another hash: a stolen database is not a code list.
    assert row["code_hash"] != keyed_hash("another-key", ch["challenge_id"], code)


def test_codes_are_spread_over_the_whole_range():
    codes = {otp.new_code() for _ in range(2000)}
    assert len(codes) > 1900 and any(c.startswith("0") for c in codes)


def test_right_code_gives_a_token_bound_to_phone_and_purpose(engine, now):
    with engine.begin() as conn:
        ch, code = challenge(conn)
        result = check(conn, ch, code)
    assert result["phone"] == PHONE and result["purpose"] == "register"
    assert len(result["verification_token"]) >= 24


def test_brute_force_sixth_try_fails_even_with_the_right_code(engine, now):
    with engine.begin() as conn:
        ch, code = challenge(conn)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    lefts = []
    for _ in range(5):
        with engine.begin() as conn:
            with pytest.raises(DomainError) as e:
                check(conn, ch, wrong)
            # committed although the check raised: every try counts
        lefts.append(e.value.details["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        check(conn, ch, code)
    assert e.value.code == "too_many_attempts"


def test_code_expires_after_five_minutes(engine, now):
    with engine.begin() as conn:
        ch, code = challenge(conn)
    now.advance(minutes=5, seconds=1)
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        check(conn, ch, code)
    assert e.value.code == "code_expired"


def test_code_works_just_before_expiry_and_only_once(engine, now):
    with engine.begin() as conn:
        ch, code = challenge(conn)
    now.advance(minutes=4, seconds=59)
    with engine.begin() as conn:
        check(conn, ch, code)
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        check(conn, ch, code)
    assert e.value.code == "code_used"


def test_resend_only_after_30_seconds(engine, now):
    with engine.begin() as conn:
        challenge(conn)
    now.advance(seconds=10)
    with engine.begin() as conn, pytest.raises(TooMany) as e:
        challenge(conn)
    assert e.value.code == "resend_too_soon" and e.value.details["retry_after"] == 21
    now.advance(seconds=20)
    with engine.begin() as conn:
        challenge(conn)


def test_three_sends_per_phone_per_15_minutes(engine, now):
    for _ in range(3):
        with engine.begin() as conn:
            challenge(conn)
        now.advance(seconds=31)
    with engine.begin() as conn, pytest.raises(TooMany) as e:
        challenge(conn)
    assert e.value.code == "too_many_codes"
    assert 0 < e.value.details["retry_after"] <= 15 * 60
    # another phone is not affected
    with engine.begin() as conn:
        challenge(conn, phone=OTHER)
    now.advance(minutes=15)
    with engine.begin() as conn:
        challenge(conn)


def test_ten_sends_per_phone_per_day(engine, now):
    for _ in range(10):
        with engine.begin() as conn:
            challenge(conn)
        now.advance(minutes=6)  # 3 per 15 min never trips at this pace
    with engine.begin() as conn, pytest.raises(TooMany) as e:
        challenge(conn)
    assert e.value.code == "too_many_codes_today"
    now.advance(hours=24)
    with engine.begin() as conn:
        challenge(conn)


def test_device_cap_per_hour(engine, now):
    policy = otp.OtpPolicy(sends_per_device_hour=4)
    for i in range(4):
        with engine.begin() as conn:
            challenge(conn, phone=f"+38050123450{i}", policy=policy)
    with engine.begin() as conn, pytest.raises(TooMany) as e:
        challenge(conn, phone="+380501234509", policy=policy)
    assert e.value.code == "device_code_limit"
    with engine.begin() as conn:  # another device may still ask
        challenge(conn, phone="+380501234509", device="dev-2", policy=policy)


def test_default_device_cap_is_30_an_hour(engine, now):
    for i in range(30):
        with engine.begin() as conn:
            challenge(conn, phone=f"+3805012345{i:02d}")
    with engine.begin() as conn, pytest.raises(TooMany):
        challenge(conn, phone="+380661234599")


def test_limits_come_from_server_toml_then_shop_settings(engine):
    with engine.begin() as conn:
        assert otp.policy_for(conn) == otp.OtpPolicy()
        p = otp.policy_for(conn, {"sends_per_phone_15min": 5, "code_ttl_seconds": 120})
        assert p.sends_per_phone_15min == 5 and p.code_ttl == timedelta(minutes=2)
        shop.put(conn, "otp", {"sends_per_phone_15min": 2, "max_attempts": 3})
        p = otp.policy_for(conn, {"sends_per_phone_15min": 5, "code_ttl_seconds": 120})
        assert (p.sends_per_phone_15min, p.max_attempts, p.code_ttl) == (2, 3, timedelta(minutes=2))
        with pytest.raises(DomainError, match="unknown"):
            otp.OtpPolicy.from_settings({"sends_per_hour": 1})
        with pytest.raises(DomainError, match="whole number"):
            otp.OtpPolicy.from_settings({"max_attempts": 0})


def test_money_code_goes_to_the_cards_phone_not_the_one_the_device_names(engine, now):
    with engine.begin() as conn:
        ch, _ = challenge(conn, phone=None, purpose="redeem", card_number="10001", amount=5000)
        assert ch["phone"] == PHONE
    now.advance(seconds=31)
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        challenge(conn, phone=OTHER, purpose="redeem", card_number="10001", amount=5000)
    assert e.value.code == "phone_mismatch"
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        challenge(conn, phone=None, purpose="redeem", card_number="10003", amount=5000)
    assert e.value.code == "card_not_active"
    for kw in ({"card_number": None, "amount": 5}, {"card_number": "10001", "amount": None},
               {"card_number": "10001", "amount": 0}):
        with engine.begin() as conn, pytest.raises(DomainError):
            challenge(conn, phone=None, purpose="redeem", **kw)


def money_token(engine, card="10001", amount=5000, purpose="redeem"):
    with engine.begin() as conn:
        ch, code = challenge(conn, phone=None, purpose=purpose, card_number=card, amount=amount)
        return check(conn, ch, code)["verification_token"]


def consume(conn, token, card="10001", amount=5000, purpose="redeem", op="op-1"):
    return otp.consume_verification(conn, token, None, purpose, card, amount, operation_id=op)


def test_token_is_single_use_replay_refused(engine, now):
    token = money_token(engine)
    with engine.begin() as conn:
        consume(conn, token, op="op-1")
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        consume(conn, token, op="op-2")
    assert e.value.code == "verification_used"
    with engine.begin() as conn:  # the same operation coming again (a retried batch) is not a replay
        consume(conn, token, op="op-1")


@pytest.mark.parametrize("change", [{"amount": 5001}, {"amount": 4999}, {"card": "10002"}, {"purpose": "return"}])
def test_token_for_another_amount_card_or_purpose_is_refused(engine, now, change):
    token = money_token(engine)
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        consume(conn, token, **change)
    assert e.value.code == "verification_mismatch"
    with engine.begin() as conn:  # a refused try does not burn the token for the right operation
        consume(conn, token)


def test_token_of_a_card_rebound_to_another_phone_is_refused(engine, now):
    token = money_token(engine)
    with engine.begin() as conn:
        other = conn.execute(select(customers.c.id).where(customers.c.phone == OTHER)).scalar()
        # One active card per customer (uq_cards_active_customer): the other phone's own card goes first.
        conn.execute(update(cards).where(cards.c.customer_id == other).values(state="blocked"))
        conn.execute(update(cards).where(cards.c.number == "10001").values(customer_id=other))
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        consume(conn, token)
    assert e.value.code == "verification_mismatch"


def test_missing_unknown_and_expired_tokens(engine, now):
    with engine.begin() as conn:
        for token, code in ((None, "verification_required"), ("", "verification_required"),
                            ("made-up-token", "verification_invalid")):
            with pytest.raises(DomainError) as e:
                consume(conn, token)
            assert e.value.code == code
    token = money_token(engine)
    now.advance(minutes=10, seconds=1)
    with engine.begin() as conn, pytest.raises(DomainError) as e:
        consume(conn, token)
    assert e.value.code == "verification_expired"


def test_tokens_are_stored_hashed(engine, now):
    token = money_token(engine)
    with engine.connect() as conn:
        stored = conn.execute(select(verification_tokens.c.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1


def settings(values):
    merged = {**shop.DEFAULTS, **values}
    return merged.get


def test_code_required_per_operation_and_the_no_code_write_off_limit():
    s = settings({"code_required": {"redeem": True, "discount": True, "return": False}, "no_code_limit": 1000})
    assert not otp.code_required(s, "redeem", 1000)  # up to the limit: no code
    assert otp.code_required(s, "redeem", 1001)
    assert otp.code_required(s, "discount", 500)  # the write-off limit never waives a discount's code
    assert not otp.code_required(s, "return", 10_000)
    assert otp.code_required(settings({"no_code_limit": 0}), "redeem", 1)


def test_check_compares_keyed_hashes_in_constant_time(engine, now, monkeypatch):
    """The comparison goes through hmac.compare_digest, on two HMACs of equal length, never on the code."""
    import hmac

    from store_server import security

    seen = []
    real = hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    with engine.begin() as conn:
        ch, code = challenge(conn)
        with pytest.raises(DomainError):
            check(conn, ch, "000000" if code != "000000" else "111111")
        check(conn, ch, code)
    assert len(seen) == 2
    for a, b in seen:
        assert len(a) == len(b) == 64 and code.encode() not in (a, b)


def test_a_typo_in_server_toml_otp_stops_the_server_at_start(tmp_path):
    import subprocess
    import sys

    from store_server.config import ServerConfig

    config = ServerConfig(data_dir=tmp_path, secret_key=KEY)
    (tmp_path / "server.toml").write_text(config.to_toml() + "\n[otp]\nsends_per_phone_15mins = 5\n",
                                          encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(tmp_path / "server.toml"),
                          "serve", "--port", "1"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "[otp]" in out.stderr and "sends_per_phone_15mins" in out.stderr
