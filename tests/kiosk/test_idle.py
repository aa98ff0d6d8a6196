"""The idle reset: longer while a code is on its way, and counted down on screen before it happens."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, KioskConfig
from kiosk.flows.idle import WARN_SECONDS, IdlePolicy


def test_a_customer_waiting_for_a_code_gets_longer_than_an_abandoned_screen():
    policy = IdlePolicy(timeout=60, code_timeout=180)
    assert policy.left("card", 61) == 0  # the card screen resets after a minute
    assert policy.left("register_code", 61) == 119 and policy.left("find_code", 170) == 10
    assert policy.left("till_code", 179.5) == 0.5
    assert policy.left("attract", 10_000) == float("inf")  # the start screen has nothing to wipe


def test_the_last_seconds_are_counted_down_and_nothing_is_shown_before():
    policy = IdlePolicy(timeout=60, code_timeout=180)
    assert policy.countdown("card", 60 - WARN_SECONDS - 1) is None
    assert policy.countdown("card", 50) == 10 and policy.countdown("card", 59.9) == 1
    assert policy.countdown("register_code", 50) is None  # the code screen waits longer
    assert policy.countdown("register_code", 170) == 10
    assert policy.countdown("attract", 10_000) is None
    # a very short timeout still warns, for half of it
    assert IdlePolicy(timeout=10, code_timeout=10).countdown("card", 4) is None
    assert IdlePolicy(timeout=10, code_timeout=10).countdown("card", 6) == 4


def test_the_code_timeout_is_a_setting_and_never_shorter_than_the_idle_timeout(tmp_path):
    assert IdlePolicy(timeout=300, code_timeout=120).limit("register_code") == 300
    path = tmp_path / "kiosk.toml"
    path.write_text('server_url = "http://127.0.0.1:8700"\ncode_idle_timeout = 240\n', encoding="utf-8")
    assert KioskConfig.load(path).code_idle_timeout == 240
    path.write_text('server_url = "http://127.0.0.1:8700"\ncode_idle_timeout = "long"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="code_idle_timeout"):
        KioskConfig.load(path)
