"""The sync worker against a real store server, directly and through a proxy that misbehaves at the wire."""

from __future__ import annotations

import subprocess
import time

import pytest

from kiosk.backend import Backend
from kiosk.cli import main as kiosk_cli
from kiosk.client import BadResponse, ServerTimeout, ServerUnreachable, ServerUntrusted, StoreClient
from kiosk.config import ConfigError
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker
from tests.support.proxy import FaultyProxy
from tests.support.server import free_port, init_demo_server


@pytest.fixture(scope="module")
def cashier(store_server):
    return store_server.enrol("cashier")


@pytest.fixture
def store(tmp_path):
    s = LocalStore(tmp_path / "state" / "kiosk.db")
    yield s
    s.close()


@pytest.fixture
def proxy(store_server):
    p = FaultyProxy(store_server.port)
    yield p
    p.close()


def worker_for(store, url, key, timeout=5.0, **kw):
    client = StoreClient(url, device_key=key, timeout=timeout)
    return SyncWorker(store, client, idle_interval=0.05, **kw)


def kiosk_config(tmp_path, url) -> str:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'server_url = "{url}"\nrole = "cashier"\nstate_dir = "{tmp_path / "state"}"\n')
    return str(path)


def test_rejected_operation_waits_in_failed_with_reason_until_a_technician_retries(
        store_server, cashier, store, tmp_path, capsys):
    worker = worker_for(store, store_server.url, cashier["device_key"])
    rejected = store.enqueue("sale", {"card_number": "99999", "amount": 700})  # not one of the shop's cards
    worker.drain()
    assert store.counts() == {"pending": 0, "done": 0, "failed": 1}
    assert store.operation(rejected)["failure"].startswith("card_not_found: ")
    worker.step()
    assert worker.state.failed == 1 and worker.state.online

    # Nothing resends it by itself: later rounds carry only new operations.
    store.enqueue("sale", {"card_number": "10011", "amount": 10_000})
    worker.drain()
    worker.drain()
    assert store.counts() == {"pending": 0, "done": 1, "failed": 1}
    assert store_server.operation_status(rejected) == "rejected"

    config = kiosk_config(tmp_path, store_server.url)
    assert kiosk_cli(["--config", config, "queue", "failed"]) == 0
    listed = capsys.readouterr().out
    assert rejected in listed and "card_not_found" in listed and "card_number=99999 amount=700" in listed
    assert kiosk_cli(["--config", config, "queue", "retry"]) == 2  # neither ids nor --all: nothing happens
    assert store.counts()["failed"] == 1
    assert kiosk_cli(["--config", config, "queue", "retry", rejected]) == 0
    row = store.operation(rejected)
    assert row["status"] == "pending" and row["id"] != rejected and rejected in row["previous_ids"]
    worker.drain()
    # The server decided afresh under the new id (the old one would only replay its old answer).
    assert store_server.operation_status(row["id"]) == "rejected"
    assert store.operation(row["id"])["status"] == "failed"


def test_a_malformed_operation_is_isolated_and_the_rest_of_its_batch_delivered(store_server, cashier, store):
    worker = worker_for(store, store_server.url, cashier["device_key"])
    good = [store.enqueue("sale", {"card_number": "10012", "amount": 1000}) for _ in range(6)]
    bad = store.enqueue("sale", {"card_number": "10012", "amount": 1000}, cashier="x" * 500)  # over the API limit
    good += [store.enqueue("sale", {"card_number": "10012", "amount": 1000}) for _ in range(5)]
    worker.drain()
    assert store.counts() == {"pending": 0, "done": 11, "failed": 1}
    assert store.operation(bad)["status"] == "failed" and "cashier" in store.operation(bad)["failure"]
    assert all(store.operation(op)["status"] == "done" for op in good)


def test_read_timeout_sends_the_same_ids_again_and_nothing_is_applied_twice(store_server, cashier, store, proxy):
    worker = worker_for(store, proxy.url, cashier["device_key"], timeout=0.5, batch_timeout=0.5)
    ids = [store.enqueue("sale", {"card_number": "10013", "amount": 2000}) for _ in range(20)]
    proxy.delay = 2.0
    proxy.set_mode("delay")  # the server applies the batch; its answer arrives after the kiosk gave up
    with pytest.raises(ServerTimeout):
        worker.sync_once()
    assert store.counts()["pending"] == 20
    worker.step()  # a second round while the server is still slow: same ids, same outcome
    assert not worker.state.online and "ReadTimeout" in worker.state.last_error
    assert store.counts()["pending"] == 20
    proxy.set_mode("pass")
    worker.client.session.close()
    worker.drain()
    assert store.counts() == {"pending": 0, "done": 20, "failed": 0}
    batches = proxy.sent_ids()
    assert len(batches) == 3 and all(batch == ids for batch in batches)
    counts = store_server.operation_counts(cashier["device_id"])
    assert all(counts[op] == 1 for op in ids)
    assert worker.client.card("10013")["balance"] == 20 * 200


@pytest.mark.parametrize("mode", ["garbage", "hang", "reset", "down"])
def test_offline_identification_from_cache_queues_sales_and_refuses_code_requests(
        mode, store_server, cashier, store, proxy):
    client = StoreClient(proxy.url if mode != "down" else f"http://127.0.0.1:{free_port()}",
                         device_key=cashier["device_key"], timeout=0.5)
    worker = SyncWorker(store, client, idle_interval=0.05, batch_timeout=0.5)
    backend = Backend(store, client, worker)
    store.cache_card(StoreClient(store_server.url, device_key=cashier["device_key"]).card("10014"))
    proxy.set_mode(mode)

    view = backend.lookup_card("10014")
    assert view.from_cache and view.card["number"] == "10014"
    with pytest.raises(ServerUnreachable if mode != "garbage" else BadResponse):
        backend.lookup_card("10015")  # never seen here: nothing to show
    with pytest.raises(ServerUnreachable if mode != "garbage" else BadResponse):
        backend.request_code("+380501112299", "register", card_number="10014")
    op = backend.enqueue("sale", {"card_number": "10014", "amount": 5000})
    assert store.counts()["pending"] == 1  # only the sale: the code request left nothing behind

    assert worker.step() > 0
    state = worker.refresh_state()
    if mode == "hang":  # the worker knows the server is down: the next customer waits less than a timeout
        client.timeout = 5.0
        started = time.monotonic()
        assert backend.lookup_card("10014").from_cache
        assert time.monotonic() - started < 4.5  # a request to the hung server would take the whole 5 s
    assert not state.online and state.pending == 1 and state.last_error
    assert store.operation(op)["status"] == "pending" and store.operation(op)["attempts"] == 1
    assert store.sync_status()["last_error"] == state.last_error

    if mode != "down":
        proxy.set_mode("pass")
        worker.step()
        assert worker.state.online and worker.state.pending == 0 and store.operation(op)["status"] == "done"


def test_sync_state_reaches_queue_status_and_cache_refreshes_touched_cards(store_server, cashier, tmp_path, capsys):
    store = LocalStore(tmp_path / "state" / "kiosk.db")
    worker = worker_for(store, store_server.url, cashier["device_key"], refresh_max_age=3600)
    backend = Backend(store, worker.client, worker)
    before = backend.lookup_card("10016").card["balance"]
    backend.enqueue("sale", {"card_number": "10016", "amount": 30_000})
    assert store.cards_to_refresh(touched_within=60, max_age=3600) == ["10016"]
    worker.step()
    assert store.cached_card("10016")[0]["balance"] == before + 3_000
    assert store.cards_to_refresh(touched_within=60, max_age=3600) == []
    store.close()

    config = kiosk_config(tmp_path, store_server.url)
    assert kiosk_cli(["--config", config, "queue", "status"]) == 0
    out = capsys.readouterr().out
    assert "pending: 0\ndone: 1\nfailed: 0\nlast success: 20" in out and "last error" not in out


def test_the_idle_heartbeat_keeps_the_shops_current_config(store_server, cashier, store):
    worker = worker_for(store, store_server.url, cashier["device_key"], heartbeat=0)
    worker.step()
    assert store.get_setting("shop_config")["till_activation"] == "direct"
    store_server.cli("settings", "set", "till_activation", "review")
    try:
        worker.step()
        assert store.get_setting("shop_config")["till_activation"] == "review"
    finally:
        store_server.cli("settings", "set", "till_activation", "direct")


def test_the_heartbeat_tells_the_server_how_the_device_is(store_server, cashier, store):
    import sqlite3

    from kiosk.sync import APP_VERSION

    store.enqueue("sale", {"card_number": "10017", "amount": 1000})
    worker = worker_for(store, store_server.url, cashier["device_key"], heartbeat=0)
    worker.step()  # drains the sale; the next idle round is the heartbeat
    worker.step()
    db = sqlite3.connect(f"file:{store_server.database}?mode=ro", uri=True)
    try:
        row = db.execute("select app_version, outbox_pending, outbox_failed, last_seen_at from device_status "
                         "where device_id = ?", [cashier["device_id"]]).fetchone()
    finally:
        db.close()
    assert row is not None and row[0] == APP_VERSION and row[1] == 0 and row[2] == 0 and row[3]


def test_queued_operations_survive_a_restart(store_server, cashier, tmp_path):
    first = LocalStore(tmp_path / "kiosk.db")
    ids = [first.enqueue("sale", {"card_number": "10017", "amount": 1000}) for _ in range(3)]
    first.close()
    again = LocalStore(tmp_path / "kiosk.db")
    worker_for(again, store_server.url, cashier["device_key"]).drain()
    assert [again.operation(i)["status"] for i in ids] == ["done"] * 3
    again.close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "shop.pem", d / "shop.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    server = init_demo_server(d / "server").start(tls=(cert, key))
    yield server, cert
    server.stop()


def test_tls_with_the_shops_own_ca_bundle(tls_server, tmp_path):
    server, cert = tls_server
    url = server.url.replace("http://", "https://")
    enroller = StoreClient(url, ca_bundle=str(cert))
    enrolled = enroller.enrol(server.enrolment_token("cashier"), "tls", "cashier")
    enroller.close()
    store = LocalStore(tmp_path / "kiosk.db")
    store.enqueue("sale", {"card_number": "10018", "amount": 1000})

    untrusting = SyncWorker(store, StoreClient(url, device_key=enrolled["device_key"]))
    with pytest.raises(ServerUntrusted, match="ca_bundle"):
        untrusting.sync_once()
    assert store.counts()["pending"] == 1

    trusting = SyncWorker(store, StoreClient(url, device_key=enrolled["device_key"], ca_bundle=str(cert)))
    trusting.drain()
    assert store.counts() == {"pending": 0, "done": 1, "failed": 0}
    with pytest.raises(ConfigError, match="ca_bundle"):
        StoreClient(url, ca_bundle=str(tmp_path / "missing.pem"))
    store.close()
    untrusting.client.close()
    trusting.client.close()  # an open keep-alive connection would hold up the server's graceful stop


def test_an_operation_the_server_keeps_failing_on_is_set_aside_and_the_queue_goes_on(
        store_server, cashier, store, proxy):
    """A server bug (HTTP 500 for one operation) must not stop the till's queue: after repeated 5xx the
    batch is halved until that operation stands alone; the others are delivered, it waits in failed."""
    proxy.set_mode("poison")
    worker = worker_for(store, proxy.url, cashier["device_key"])
    good = [store.enqueue("sale", {"card_number": "10013", "amount": 1000}) for _ in range(6)]
    bad = store.enqueue("sale", {"card_number": "10013", "amount": 1000})
    good += [store.enqueue("sale", {"card_number": "10013", "amount": 1000}) for _ in range(5)]
    proxy.poison = bad.encode()
    with pytest.raises(BadResponse):  # the first 500 may be a hiccup: the batch is only sent again
        worker.sync_once()
    assert store.counts()["pending"] == 12
    worker.drain()
    assert store.counts() == {"pending": 0, "done": 11, "failed": 1}
    assert store.operation(bad)["failure"].startswith("server_error: ")
    assert all(store.operation(op)["status"] == "done" for op in good)
    assert proxy.poisoned <= 2 + 4  # twice whole, then once per halving down to the operation alone


def test_a_server_failing_on_everything_sets_nothing_aside(store_server, cashier, store, proxy):
    proxy.set_mode("poison")
    proxy.poison = b"operations:batch"  # every batch request fails: the server is down, not one operation
    worker = worker_for(store, proxy.url, cashier["device_key"])
    for _ in range(8):
        store.enqueue("sale", {"card_number": "10014", "amount": 1000})
    for _ in range(3):
        with pytest.raises(BadResponse):
            worker.sync_once()
    assert store.counts() == {"pending": 8, "done": 0, "failed": 0}
    assert proxy.poisoned <= 2 + 3 * 5  # a few requests a round, not one per operation
    proxy.poison = b"no such bytes"
    worker.drain()
    assert store.counts() == {"pending": 0, "done": 8, "failed": 0}
