"""An outage: the store server is down while the kiosk queues 10,000 operations; it comes back and the
running sync worker drains them all, none twice."""

from __future__ import annotations

import time

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker
from tests.support.server import init_demo_server

OPERATIONS = 10_000


def wait_for(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def test_ten_thousand_operations_queued_during_an_outage_all_drain_once(tmp_path):
    server = init_demo_server(tmp_path / "server").start()
    enrolled = server.enrol("cashier")
    server.stop()

    store = LocalStore(tmp_path / "kiosk.db")
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=5)
    worker = SyncWorker(store, client, idle_interval=0.1, max_backoff=0.5)
    backend = Backend(store, client, worker)
    worker.start()
    try:
        started = time.monotonic()
        ids = [backend.enqueue("sale", {"card_number": f"100{20 + i % 10}", "amount": 100 + i})
               for i in range(OPERATIONS)]
        queued = time.monotonic() - started
        assert wait_for(lambda: worker.state.last_error is not None, 5)
        assert not worker.state.online and store.counts() == {"pending": OPERATIONS, "done": 0, "failed": 0}
        assert "unreachable" in store.sync_status()["last_error"]

        server.start()
        started = time.monotonic()
        assert wait_for(lambda: store.counts()["pending"] == 0, 120), store.counts()
        drained = time.monotonic() - started
        assert store.counts() == {"pending": 0, "done": OPERATIONS, "failed": 0}
        assert wait_for(lambda: worker.state.online and worker.state.pending == 0, 5)
    finally:
        worker.stop()
        client.close()
        store.close()
        server.stop()
    on_server = server.operation_counts(enrolled["device_id"])
    assert set(on_server) == set(ids) and set(on_server.values()) == {1}
    print(f"queued {OPERATIONS} in {queued:.1f} s offline; drained in {drained:.1f} s after the server returned")
