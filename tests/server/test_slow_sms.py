"""A slow SMS provider (a wire-level fake) behind a real server: the kiosk's code request waits long enough,
and past the server's own wait the answer comes first and the SMS follows."""

from __future__ import annotations

import sqlite3
import time

import pytest

from kiosk.client import StoreClient
from tests.sms.conftest import running_provider
from tests.support.server import init_demo_server


@pytest.fixture
def slow_shop(tmp_path):
    with running_provider() as provider:
        server = init_demo_server(tmp_path)
        with server.config_path.open("a", encoding="utf-8") as f:
            f.write(f'\n[otp]\nresend_after_seconds = 1\nsend_wait_seconds = 10\n'
                    f'\n[[sms.gateways]]\ntype = "generic_http"\nurl = "{provider.url}/send"\ntimeout = 30\n'
                    f'body = {{ to = "{{phone}}", text = "{{text}}" }}\n')
        server.start()
        try:
            key = server.enrol("entrance")["device_key"]
            yield server, provider, StoreClient(server.url, device_key=key, timeout=5)
        finally:
            provider.release.set()
            server.stop()


def test_a_code_request_outwaits_a_provider_slower_than_the_kiosks_usual_timeout(slow_shop):
    server, provider, client = slow_shop
    provider.reply(200, {"ok": True}, delay=6)  # longer than the client's 5 s, shorter than the server's 10 s
    started = time.monotonic()
    challenge = client.request_code("+380501118801", "register")
    took = time.monotonic() - started
    assert challenge["challenge_id"] and "sms_pending" not in challenge and took >= 6
    assert provider.requests[0].json()["to"] == "+380501118801"


def test_past_the_servers_wait_the_answer_comes_first_and_the_sms_follows(slow_shop):
    server, provider, client = slow_shop
    # 10 s apart on each side of the server's answer (at its 10 s wait), so a loaded machine cannot blur them.
    provider.reply(200, {"ok": True}, delay=20)  # slower than the server waits (10 s)
    started = time.monotonic()
    challenge = client.request_code("+380501118802", "register")
    took = time.monotonic() - started
    assert challenge["sms_pending"] is True and 10 <= took < 20, took
    # The send finished behind the answer: the provider got the code and the message log says it went.
    assert provider.requests[0].json()["to"] == "+380501118802"
    assert any(w.isdigit() and len(w) == 6 for w in provider.requests[0].json()["text"].split())

    def logged() -> list[tuple]:
        db = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)
        try:
            return db.execute("select status from sms_log where phone = ?", ["+380501118802"]).fetchall()
        finally:
            db.close()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not logged():
        time.sleep(0.2)
    assert logged() and logged()[0][0] != "failed", logged()
    assert time.monotonic() - started >= 20  # it went out after the provider's 20 s, well after the answer
