"""The ledger under contention: races and a mixed load against real `store-server serve` processes.

For each backend and process count it starts the processes on one database (SQLite file, or a database
of a throwaway PostgreSQL cluster as the test suite starts it), then
  * the mixed load: tills posting sales and looking cards up while customers ask for codes, type them in
    and register, for --seconds (30 by default; the test suite runs a shorter one);
  * every race of tests/support/races.py, --rounds times, each fired from 10-20 threads at one instant;
and prints, per scenario, requests/s, p50/p99 latency, the number of 5xx answers and of broken invariants
(goal: 0 and 0). The anchor, measured in the same run on the same processes, is one till alone posting
sales one after another: the mixed load's requests/s are printed as a ratio of it.

    .venv/bin/python benchmarks/contention.py [--seconds 30] [--rounds 5] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server import pg  # noqa: E402
from tests.support.races import RACES, Fleet, mixed_load, percentile, run_race  # noqa: E402


def anchor(fleet: Fleet, seconds: float = 3.0) -> float:
    """Sales/s of one till alone, one request at a time, on the same processes."""
    session, device, card = requests.Session(), fleet.cashiers[0], fleet.new_card()
    n, stop = 0, time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < stop:
        r = session.post(f"{fleet.servers[0].url}/api/v1/operations:batch", timeout=60,
                         headers={"Authorization": f"Bearer {device['key']}"},
                         json={"operations": [fleet.op("sale", card_number=card, amount=1_000)]})
        r.raise_for_status()
        n += 1
    return n / (time.monotonic() - started)


def row(label: str, requests_: int, seconds: float, latencies: list[float], errors: int, broken: int) -> str:
    rate = requests_ / seconds if seconds else 0.0
    return (f"  {label:<18} {requests_:>6} req {rate:>8.1f} req/s  p50 {percentile(latencies, 50) * 1000:>7.1f} ms"
            f"  p99 {percentile(latencies, 99) * 1000:>8.1f} ms  5xx {errors:>3}  broken {broken:>3}")


def run(backend: str, processes: int, args, cluster) -> tuple[int, int]:
    root = Path(tempfile.mkdtemp(prefix=f"contention-{backend}-"))
    url = cluster.new_database() if backend == "postgresql" else None
    fleet = Fleet(root, processes, url).start()
    total_errors = total_broken = 0
    try:
        print(f"{backend}, {processes} server process{'es' if processes > 1 else ''}:")
        base = anchor(fleet)
        print(f"  anchor: one till alone {base:.1f} sales/s")
        load = mixed_load(fleet, args.seconds)
        rate = load.requests / load.seconds
        print(row("mixed load", load.requests, load.seconds, load.latencies, load.server_errors, len(load.broken))
              + f"  ({rate / base:.2f}x the anchor; {load.by_kind}; refused {load.refused})")
        total_errors += load.server_errors
        total_broken += len(load.broken)
        for name in RACES:
            started = time.monotonic()
            outcome = run_race(fleet, name, args.rounds)
            took = time.monotonic() - started
            print(row(name, outcome.requests, took, outcome.latencies, outcome.server_errors, outcome.broken)
                  + (f"  e.g. {outcome.notes[0][:120]}" if outcome.notes else ""))
            total_errors += outcome.server_errors
            total_broken += outcome.broken
    finally:
        fleet.stop()
        shutil.rmtree(root, ignore_errors=True)
    return total_errors, total_broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the mixed load")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each race")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    plans = []
    if args.backend in ("sqlite", "both"):
        plans += [("sqlite", 1), ("sqlite", 2)]
    cluster = None
    if args.backend in ("postgresql", "both"):
        if pg.pg_bin("initdb"):
            cluster = pg.Cluster().start()
            plans += [("postgresql", 3)]
        else:
            print("PostgreSQL is not installed: its runs are skipped")
    errors = broken = 0
    try:
        for backend, processes in plans:
            e, b = run(backend, processes, args, cluster)
            errors, broken = errors + e, broken + b
    finally:
        if cluster:
            cluster.stop()
    print(f"total: {errors} server errors, {broken} broken invariants (goal: 0 and 0)")
    return 0 if errors == broken == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
