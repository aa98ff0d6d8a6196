"""Crash safety: the kiosk process SIGKILLed at random moments while it enqueues and syncs, and the store
server killed mid-batch. At the end the server has every operation exactly once and the outbox is empty.

The kiosk side runs in forked processes (the modules are already imported, so a restart costs
milliseconds and 200 trials fit in the default run); each is a real process with its own SQLite
connection, killed by the kernel wherever it is: inside a commit, mid-request, while marking results.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time

import pytest

from kiosk.backend import Backend
from kiosk.client import ServerError, StoreClient
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker
from tests.support.server import init_demo_server

TRIALS = 1000 if os.environ.get("KIOSK_SOAK") == "1" else 200


@pytest.fixture
def server(tmp_path):
    srv = init_demo_server(tmp_path / "server").start()
    yield srv
    srv.stop()


def _kiosk(db_path: str, url: str, key: str, card: str, report_fd: int, seed: int) -> None:
    """The kiosk's write path in a loop until killed. Odd seeds run it as the app does (sales queued from
    the "UI" thread through the backend while the sync thread sends); even seeds alternate queueing a few
    sales and one sync round in a single thread. Each id is reported once enqueue has returned."""
    rng = random.Random(seed)
    store = LocalStore(db_path)
    client = StoreClient(url, device_key=key, timeout=5)
    worker = SyncWorker(store, client, batch_size=rng.choice([1, 7, 50, 500]), idle_interval=0.01,
                        max_backoff=0.05)
    if seed % 2:
        backend = Backend(store, client, worker)
        worker.start()
        while True:
            op_id = backend.enqueue("sale", {"card_number": card, "amount": rng.randint(1, 500) * 100})
            os.write(report_fd, f"{op_id}\n".encode())
            time.sleep(rng.choice([0, 0, 0.002, 0.01]))
    while True:
        for _ in range(rng.randint(1, 4)):
            op_id = store.enqueue("sale", {"card_number": card, "amount": rng.randint(1, 500) * 100})
            os.write(report_fd, f"{op_id}\n".encode())
        try:
            worker.sync_once()
        except ServerError:
            pass


def _run_trial(ctx, db_path, server, key, card, seed, max_life) -> set[str]:
    read_fd, write_fd = os.pipe()
    proc = ctx.Process(target=_kiosk, args=(db_path, server.url, key, card, write_fd, seed), daemon=True)
    proc.start()
    os.close(write_fd)
    time.sleep(random.Random(seed).uniform(0.0, max_life))
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    data = b""
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    return {line for line in data.decode().splitlines() if len(line) == 36}


def _assert_exactly_once(server, device_id: str, db_path, committed: set[str]) -> None:
    store = LocalStore(db_path)
    try:
        rows = {r["id"]: r["status"] for r in store.db.query("select id, status from outbox")}
    finally:
        store.close()
    assert committed <= set(rows), f"{len(committed - set(rows))} operations lost after their commit returned"
    assert set(rows.values()) == {"done"}, f"outbox not empty: {sorted(set(rows.values()))}"
    on_server = server.operation_counts(device_id)
    assert set(on_server) == set(rows), "server and device disagree on which operations exist"
    twice = {op_id: n for op_id, n in on_server.items() if n != 1}
    assert not twice, f"operations not applied exactly once: {list(twice.items())[:5]}"


def test_kiosk_killed_at_random_moments_loses_nothing_and_applies_nothing_twice(server, tmp_path):
    enrolled = server.enrol("cashier")
    db_path = str(tmp_path / "kiosk.db")
    ctx = multiprocessing.get_context("fork")
    committed: set[str] = set()
    started = time.monotonic()
    for trial in range(TRIALS):
        committed |= _run_trial(ctx, db_path, server, enrolled["device_key"], "10005", trial, max_life=0.25)
    assert len(committed) > TRIALS, "the kiosk processes hardly got to enqueue anything"
    synced_before = len(server.operation_counts(enrolled["device_id"]))
    assert synced_before > len(committed) // 3, "the kiosk processes hardly got to sync anything"
    # The last restart: a kiosk that is left alone drains everything.
    store = LocalStore(db_path)
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=30)
    try:
        SyncWorker(store, client).drain()
        assert store.counts()["pending"] == 0
    finally:
        client.close()
        store.close()
    _assert_exactly_once(server, enrolled["device_id"], db_path, committed)
    print(f"{TRIALS} kills, {len(committed)} operations ({synced_before} synced before the last restart), "
          f"{time.monotonic() - started:.1f} s")


class SignallingClient(StoreClient):
    in_flight = threading.Event()

    def send_batch(self, operations, timeout=None, backlog=None):
        self.in_flight.set()
        return super().send_batch(operations, timeout=timeout, backlog=backlog)


def test_server_killed_and_restarted_mid_batch(server, tmp_path):
    enrolled = server.enrol("cashier")
    db_path = tmp_path / "kiosk.db"
    store = LocalStore(db_path)
    ids = {store.enqueue("sale", {"card_number": "10006", "amount": 1000 + i}) for i in range(4000)}
    client = SignallingClient(server.url, device_key=enrolled["device_key"], timeout=30)
    worker = SyncWorker(store, client, batch_size=500)
    errors: list[Exception] = []
    rng = random.Random(6)
    try:
        for _ in range(2):
            def drain() -> None:
                try:
                    worker.drain()
                except ServerError as e:
                    errors.append(e)

            thread = threading.Thread(target=drain)
            # A 500-operation batch keeps the server busy for 0.1 s or more: kill it inside one.
            client.in_flight.clear()
            thread.start()
            assert client.in_flight.wait(10)
            time.sleep(rng.uniform(0.0, 0.05))
            server.kill()
            thread.join(timeout=30)
            assert not thread.is_alive()
            server.start()
        assert errors, "the server was never killed while a batch was in flight"
        worker.drain()
        assert store.counts() == {"pending": 0, "done": len(ids), "failed": 0}
    finally:
        client.close()
        store.close()
    _assert_exactly_once(server, enrolled["device_id"], db_path, ids)
