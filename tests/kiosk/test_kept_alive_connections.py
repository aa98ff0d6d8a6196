"""Kept-alive connections between the kiosk and a real store server: the server keeps an idle connection open
for [limits] keep_alive_seconds (longer than uvicorn's 5 s), and when a request meets a connection the server has
just closed as idle, the kiosk sends it again once if it is safe to repeat.

The race itself (the server's close still on its way as the kiosk reuses the connection) is made deterministic by
a proxy that lets the kiosk learn of the server's close only from the reset its next request gets. The server's
own keep-alive timer closes the connection, set short here."""

from __future__ import annotations

import re
import socket
import time
import uuid
from datetime import UTC, datetime

import pytest

from kiosk.client import ServerUnreachable, StoreClient
from tests.support.proxy import FaultyProxy
from tests.support.server import init_demo_server

KEEP_ALIVE = 0.5


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("keepalive"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write(f"\n[limits]\nkeep_alive_seconds = {KEEP_ALIVE}\n")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cashier(server):
    return server.enrol("cashier")


@pytest.fixture
def proxy(server):
    p = FaultyProxy(server.port, mode="late_close")
    yield p
    p.close()


@pytest.fixture
def client(proxy, cashier):
    c = StoreClient(proxy.url, device_key=cashier["device_key"], timeout=30)
    yield c
    c.close()


def idle_until_the_server_closes(proxy: FaultyProxy) -> None:
    proxy.server_closed.clear()
    # The server closes after KEEP_ALIVE s; a loaded machine may take longer, never forever.
    assert proxy.server_closed.wait(60), "the server never closed the idle connection"


def sale(card: str, amount: int) -> dict:
    return {"id": str(uuid.uuid4()), "type": "sale", "at": datetime.now(UTC).isoformat(),
            "payload": {"card_number": card, "amount": amount}, "verification_token": None, "cashier": None}


def test_a_lookup_on_a_connection_the_server_just_closed_is_sent_again(client, proxy):
    before = client.card("10013")["balance"]
    idle_until_the_server_closes(proxy)
    assert client.card("10013")["balance"] == before  # without the repeat: ServerUnreachable
    assert proxy.resets == 1  # the race really happened, once: the repeat went on a new connection


def test_a_batch_is_sent_again_and_applied_once(client, proxy, server, cashier):
    before = client.card("10016")["balance"]
    idle_until_the_server_closes(proxy)
    ops = [sale("10016", 1000), sale("10016", 2000)]
    results = client.send_batch(ops)
    assert [r["status"] for r in results] == ["applied", "applied"] and proxy.resets == 1
    counts = server.operation_counts(cashier["device_id"])
    assert [counts[op["id"]] > 0 for op in ops] == [True, True]
    assert client.card("10016")["balance"] == before + 300  # 10 % of 30.00, booked once
    idle_until_the_server_closes(proxy)
    client.heartbeat({"app_version": "test"})  # a report, safe to repeat
    assert proxy.resets == 2


def test_a_code_request_is_not_sent_twice(client, proxy, server):
    client.card("10013")
    idle_until_the_server_closes(proxy)
    with pytest.raises(ServerUnreachable):
        client.request_code("+380501117701", "register")  # a second try could text the customer twice
    assert proxy.resets == 1
    sent = server.sms_file.read_text(encoding="utf-8") if server.sms_file.exists() else ""
    assert "+380501117701" not in sent


def request(sock: socket.socket) -> bytes:
    """One GET on a raw kept-alive connection; the whole answer (head and body) read off it."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    answer = b""
    while not complete(answer):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def complete(answer: bytes) -> bool:
    head, blank, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(blank) and len(body) >= int(length.group(1) if length else 0)


def test_the_server_closes_an_idle_connection_after_its_keep_alive_setting(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        assert request(sock).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, not by our 60 s timeout
        assert time.monotonic() - answered >= KEEP_ALIVE * 0.8


def test_by_default_an_idle_connection_outlives_uvicorns_five_seconds(store_server):
    with socket.create_connection(("127.0.0.1", store_server.port), timeout=60) as sock:
        assert request(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6.5)  # uvicorn's default would have closed it after 5 s
        assert request(sock).startswith(b"HTTP/1.1 200")
