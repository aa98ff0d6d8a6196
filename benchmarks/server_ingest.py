"""Operations per second a real `store-server serve` ingests through POST /operations:batch.

Starts a demo store server on loopback, then one cashier device sends sales in batches of 500 (the
kiosk's batch size) over a keep-alive connection, one batch after another, as a till draining its
outbox does. A second run sends the same batches again: the retry case, all duplicates.

    .venv/bin/python benchmarks/server_ingest.py [--operations 20000] [--batch 500] [--mixed]

--mixed puts a redemption after every ten sales, which takes the one-by-one path for the whole batch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import init_demo_server  # noqa: E402
from tests.support.times import iso_ago  # noqa: E402


def batches(n: int, size: int, cards: int, mixed: bool) -> list[list[dict]]:
    ops, at = [], iso_ago(hours=1)  # recent: the server refuses times over 400 days old
    for i in range(n):
        number = str(100001 + i % cards)
        if mixed and i % 11 == 10:
            ops.append({"id": str(uuid.uuid4()), "type": "redeem", "at": at,
                        "payload": {"card_number": number, "amount": 1}})
        else:
            ops.append({"id": str(uuid.uuid4()), "type": "sale", "at": at, "cashier": "bench",
                        "payload": {"card_number": number, "amount": 1_000 + i}})
    return [ops[i:i + size] for i in range(0, n, size)]


def send_all(session: requests.Session, url: str, key: str, chunks: list[list[dict]]) -> tuple[float, dict]:
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    for chunk in chunks:
        r = session.post(f"{url}/api/v1/operations:batch", json={"operations": chunk},
                         headers={"Authorization": f"Bearer {key}"}, timeout=120)
        r.raise_for_status()
        for res in r.json()["results"]:
            statuses[res["status"]] = statuses.get(res["status"], 0) + 1
    return time.perf_counter() - started, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--mixed", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = init_demo_server(Path(tmp))
        server.cli("cards", "issue", "100001", str(100000 + args.cards))
        # Redemptions below the no-code limit, so the mixed run measures the ledger, not SMS codes.
        server.cli("settings", "set", "no_code_limit", "1000")
        server.start()
        try:
            key = server.enrol("cashier")["device_key"]
            chunks = batches(args.operations, args.batch, args.cards, args.mixed)
            with requests.Session() as session:
                send_all(session, server.url, key, batches(args.batch, args.batch, args.cards, False))  # warm-up
                took, statuses = send_all(session, server.url, key, chunks)
                again, dup = send_all(session, server.url, key, chunks)
        finally:
            server.stop()
    kind = "mixed sales+redemptions" if args.mixed else "sales"
    print(f"server_ingest: {args.operations / took:,.0f} operations/s ({kind}, batches of {args.batch}, "
          f"{args.operations} ops in {took:.2f} s, {statuses}); retry of the same batches: "
          f"{args.operations / again:,.0f} operations/s ({dup})")


if __name__ == "__main__":
    main()
