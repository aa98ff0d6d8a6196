"""Draining a backlog: 10,000 queued sales to a local store server in batches of 500, against one request per
operation as a baseline.

    .venv/bin/python benchmarks/sync_drain.py [--ops 10000] [--baseline-ops 1000]

Both runs go through the real path: the outbox file (WAL, synchronous=FULL), SyncWorker, requests, a
`store-server serve` subprocess on loopback. The baseline is timed over --baseline-ops operations and
scaled to --ops (pass --baseline-ops 10000 to time it in full). The time spent waiting for the server's
answer is printed apart from the kiosk's own work (reading the outbox, marking results).
Goals: drain <= 5 s and >= 20x faster than the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kiosk.client import StoreClient  # noqa: E402
from kiosk.store import LocalStore  # noqa: E402
from kiosk.sync import SyncWorker  # noqa: E402
from tests.support.server import init_demo_server  # noqa: E402
from tests.support.times import iso_ago  # noqa: E402

DRAIN_GOAL_S = 5.0
SPEEDUP_GOAL = 20.0


class TimedClient(StoreClient):
    """Counts the time spent inside send_batch: the request, the server's work and the answer."""

    waited = 0.0
    requests_sent = 0

    def send_batch(self, operations, timeout=None, backlog=None):
        started = time.perf_counter()
        try:
            return super().send_batch(operations, timeout=timeout, backlog=backlog)
        finally:
            self.waited += time.perf_counter() - started
            self.requests_sent += 1


def drain(server, key: str, db: Path, ops: int, batch_size: int) -> tuple[float, TimedClient]:
    store = LocalStore(db)
    with store._tx() as conn:  # the backlog itself is not what is measured: queue it in one go
        conn.executemany(
            "insert into outbox (id, type, at, payload, status, attempts, created_at) "
            "values (?, 'sale', ?, ?, 'pending', 0, ?)",
            [(str(uuid.uuid4()), iso_ago(hours=1),
              json.dumps({"card_number": f"100{30 + i % 50}", "amount": 100 + i}), time.time()) for i in range(ops)])
    client = TimedClient(server.url, device_key=key, timeout=60)
    worker = SyncWorker(store, client, batch_size=batch_size)
    started = time.perf_counter()
    worker.drain()
    elapsed = time.perf_counter() - started
    assert store.counts() == {"pending": 0, "done": ops, "failed": 0}, store.counts()
    client.close()
    store.close()
    return elapsed, client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--baseline-ops", type=int, default=1_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = init_demo_server(tmp / "server").start()
        try:
            key = server.enrol("cashier")["device_key"]
            batched, bc = drain(server, key, tmp / "batched.db", args.ops, 500)
            single, sc = drain(server, key, tmp / "single.db", args.baseline_ops, 1)
        finally:
            server.stop()
    single_scaled = single * args.ops / args.baseline_ops
    speedup = single_scaled / batched
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores; other work on the machine counts)")
    print(f"batched (500/request): {args.ops} ops in {batched:.2f} s = {args.ops / batched:,.0f} ops/s, "
          f"{bc.requests_sent} requests; waiting for the server {bc.waited:.2f} s, kiosk side "
          f"{batched - bc.waited:.2f} s")
    print(f"one request per op:    {args.baseline_ops} ops in {single:.2f} s = {args.baseline_ops / single:,.0f} ops/s"
          f" -> {single_scaled:.1f} s for {args.ops}; waiting for the server {sc.waited:.2f} s")
    print(f"speedup: {speedup:.1f}x (goal >= {SPEEDUP_GOAL:.0f}x: {'met' if speedup >= SPEEDUP_GOAL else 'NOT met'}); "
          f"drain goal <= {DRAIN_GOAL_S:.0f} s: {'met' if batched <= DRAIN_GOAL_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
