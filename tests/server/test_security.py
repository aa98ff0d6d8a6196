"""Secrets the server hands out must survive being typed after a command-line flag."""

from __future__ import annotations

from store_server.security import hash_secret, new_secret


def test_no_secret_starts_with_a_dash():
    # One token_urlsafe draw in 64 starts with "-"; `kiosk provision --token -abc` would read it as a flag.
    secrets = [new_secret(9) for _ in range(3000)]
    assert not any(s.startswith("-") for s in secrets)
    assert len(set(secrets)) == len(secrets)


def test_secrets_are_stored_as_hashes():
    secret = new_secret()
    assert hash_secret(secret) == hash_secret(secret) != secret


def test_init_writes_the_config_and_database_for_the_owner_only(tmp_path):
    import stat
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "store_server.cli", "init", "--data-dir", str(tmp_path), "--demo"],
                   check=True, capture_output=True)
    config = stat.S_IMODE((tmp_path / "server.toml").stat().st_mode)
    database = stat.S_IMODE((tmp_path / "store.db").stat().st_mode)
    assert config == 0o600, oct(config)  # the secret key and the gateways' credentials
    assert database & 0o007 == 0 and database & 0o020 == 0, oct(database)  # no one else, group reads at most


def test_sql_errors_carry_no_parameters(tmp_path):
    # A traceback of a failed statement goes to the journal; the phone and code hash in it must not.
    import pytest
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from store_server.data.db import create_schema, customers, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    row = {"phone": "+380501234567", "name": "Olena", "created_at": __import__("datetime").datetime(2026, 1, 1)}
    with engine.begin() as conn:
        conn.execute(insert(customers).values(**row))
    with pytest.raises(IntegrityError) as failed, engine.begin() as conn:
        conn.execute(insert(customers).values(**row))
    assert "+380501234567" not in str(failed.value) and "Olena" not in str(failed.value)
    assert "hidden due to hide_parameters" in str(failed.value)


def test_a_token_without_a_role_enrols_nothing(tmp_path):
    from datetime import UTC, datetime, timedelta

    import pytest
    from sqlalchemy import insert

    from store_server import devices, shops
    from store_server.data.db import create_schema, enrolment_tokens, make_engine
    from store_server.errors import Forbidden

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    with engine.begin() as conn:  # as an earlier release wrote `enrolment-token` without --role (0007_shops
        # gave such tokens the shop `main`)
        conn.execute(insert(enrolment_tokens).values(token_hash=hash_secret("old-token"), role=None,
                                                     expires_at=datetime.now(UTC) + timedelta(hours=1),
                                                     shop=shops.ensure_default(conn)))
    for role in ("cashier", "entrance"):
        with pytest.raises(Forbidden) as refused, engine.begin() as conn:
            devices.enrol(conn, token="old-token", name="till", role=role)
        assert refused.value.code == "enrolment_token_without_role"
