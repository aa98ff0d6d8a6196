"""Fraud signals: phones that got codes from many devices, codes requested for staff phones."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import insert

from store_server import clock, fraud, shop, shops
from store_server.config import ServerConfig
from store_server.data.db import create_schema, devices, make_engine
from store_server.messaging import codes as otp

KEY = "k"


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(eng)
    with eng.begin() as conn:
        home = shops.ensure_default(conn)
        conn.execute(insert(devices), [dict(id=f"dev-{i}", name=f"Till {i}", role="cashier", key_hash=f"h{i}",
                                            created_at=clock.now(), shop=home) for i in range(1, 6)])
    yield eng
    eng.dispose()


def codes(engine, phone, devices_used, purpose="register"):
    policy = otp.OtpPolicy(resend_after=timedelta(0), sends_per_phone_15min=100, sends_per_phone_day=100)
    for dev in devices_used:
        with engine.begin() as conn:
            otp.create_challenge(conn, secret_key=KEY, phone=phone, purpose=purpose, device_id=dev, policy=policy)


def test_phone_with_codes_from_many_devices_is_reported(engine):
    codes(engine, "+380501110001", ["dev-1", "dev-2", "dev-3", "dev-4"])
    codes(engine, "+380501110002", ["dev-1", "dev-1", "dev-2"])  # a regular: two tills
    with engine.connect() as conn:
        rep = fraud.report(conn, min_devices=3)
    assert [(m.phone, m.devices, m.codes) for m in rep.many_devices] == [("+380501110001", 4, 4)]
    text = fraud.render(rep)
    assert "+380 •• ••• •• 01" in text and "+380501110001" not in text  # masked


def test_old_codes_fall_out_of_the_window(engine, monkeypatch):
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() - timedelta(days=10))
    codes(engine, "+380501110001", ["dev-1", "dev-2", "dev-3"])
    monkeypatch.setattr(clock, "now", real)
    with engine.connect() as conn:
        assert fraud.report(conn, days=7).many_devices == []
        assert len(fraud.report(conn, days=11).many_devices) == 1


def test_codes_for_staff_phones_are_reported_with_device_and_purpose(engine):
    with engine.begin() as conn:
        shop.put(conn, "staff_phones", ["050 111 00 09", "not a phone"])
    codes(engine, "+380501110009", ["dev-2"], purpose="identify")
    codes(engine, "+380501110003", ["dev-2"])
    with engine.connect() as conn:
        rep = fraud.report(conn)
    assert [(s.phone, s.purpose, s.device) for s in rep.staff_codes] == [("+380501110009", "identify", "Till 2")]
    assert "identify  device Till 2" in fraud.render(rep)


def test_cli_fraud_report(tmp_path, engine):
    config = ServerConfig(data_dir=tmp_path, secret_key=KEY)
    (tmp_path / "server.toml").write_text(config.to_toml(), encoding="utf-8")
    with engine.begin() as conn:
        shop.put(conn, "staff_phones", ["+380501110009"])
    run = [sys.executable, "-m", "store_server.cli", "--config", str(tmp_path / "server.toml"), "fraud-report",
           "--fail-on-signal"]
    quiet = subprocess.run(run, capture_output=True, text=True)
    assert quiet.returncode == 0 and "from many devices: 0" in quiet.stdout
    codes(engine, "+380501110009", ["dev-1", "dev-2", "dev-3"])
    loud = subprocess.run(run, capture_output=True, text=True)
    assert loud.returncode == 1
    assert "from many devices: 1" in loud.stdout and "codes requested for staff phones: 3" in loud.stdout
