"""Durable enqueues per second: the kiosk's outbox (WAL, synchronous=FULL, one transaction per operation)
side by side with persist-queue's SQLiteAckQueue in the same run, on the same disk.

    .venv/bin/python benchmarks/outbox.py [--ops 3000] [--rounds 3]

Each enqueue returns only after its commit (SQLiteAckQueue forces auto_commit=True, so each put commits
too). persist-queue does not set `synchronous`, so it runs at the SQLite build's default (printed); it is
measured as shipped (pickle) and at the outbox's durability (FULL, JSON). Rounds alternate between the
queues so both see the same background load; the median round is reported. Goal: >= 2,000/s and not
slower than persist-queue.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from persistqueue import SQLiteAckQueue  # noqa: E402
from persistqueue.serializers import json as pq_json  # noqa: E402
from persistqueue.serializers import pickle as pq_pickle  # noqa: E402

from kiosk.store import LocalStore  # noqa: E402

GOAL = 2_000.0
SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def payload(i: int) -> dict:
    return {"card_number": f"{10001 + i % 100}", "amount": 100 + i}


def outbox_round(path: Path, ops: int) -> float:
    store = LocalStore(path)
    started = time.perf_counter()
    for i in range(ops):
        store.enqueue("sale", payload(i))
    elapsed = time.perf_counter() - started
    assert store.counts()["pending"] >= ops
    store.close()
    return ops / elapsed


def persist_queue_round(path: Path, ops: int, *, full: bool) -> tuple[float, int]:
    q = SQLiteAckQueue(str(path), serializer=pq_json if full else pq_pickle)
    if full:
        q._putter.execute("PRAGMA synchronous=FULL")
    level = q._putter.execute("PRAGMA synchronous").fetchone()[0]
    started = time.perf_counter()
    for i in range(ops):
        # The same record the outbox keeps, so both write the same bytes' worth of work.
        q.put({"id": str(uuid.uuid4()), "type": "sale", "at": datetime.now(UTC).isoformat(), "payload": payload(i)})
    elapsed = time.perf_counter() - started
    assert q.size >= ops
    return ops / elapsed, level


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ours, pq_shipped, pq_full = [], [], []
    shipped_level = full_level = None
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        tmp = Path(tmp)
        for r in range(args.rounds):
            ours.append(outbox_round(tmp / f"outbox-{r}.db", args.ops))
            rate, shipped_level = persist_queue_round(tmp / f"pq-{r}", args.ops, full=False)
            pq_shipped.append(rate)
            rate, full_level = persist_queue_round(tmp / f"pqfull-{r}", args.ops, full=True)
            pq_full.append(rate)
    ours_m, shipped_m, full_m = (statistics.median(x) for x in (ours, pq_shipped, pq_full))
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores; other work on the machine counts)")
    print(f"outbox (WAL, FULL, JSON):             {ours_m:8,.0f} enqueues/s  rounds {[round(x) for x in ours]}")
    print(f"SQLiteAckQueue as shipped ({SYNC_NAMES[shipped_level]}, pickle): {shipped_m:8,.0f} puts/s  "
          f"rounds {[round(x) for x in pq_shipped]}")
    print(f"SQLiteAckQueue at FULL, JSON:         {full_m:8,.0f} puts/s      rounds {[round(x) for x in pq_full]}"
          f" (synchronous={SYNC_NAMES[full_level]})")
    print(f"goal >= {GOAL:,.0f}/s: {'met' if ours_m >= GOAL else 'NOT met'}; "
          f"vs persist-queue: {ours_m / max(shipped_m, full_m):.2f}x of the faster variant "
          f"({'not slower' if ours_m >= max(shipped_m, full_m) * 0.97 else 'slower'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
