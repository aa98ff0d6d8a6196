"""Card look-ups per second and their p99 at 50 concurrent clients against a real `store-server serve`.

Starts a demo store server on loopback (its own process), gives 1,000 cards some ledger history, then
50 keep-alive connections ask for random cards for a fixed time. The client is a few lines of asyncio
over raw HTTP/1.1 so that it takes as little of the machine's CPU from the server as possible.

    .venv/bin/python benchmarks/server_lookup.py [--clients 50] [--seconds 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import START_DEADLINE, init_demo_server, wait_ready  # noqa: E402
from tests.support.times import iso_ago  # noqa: E402


def prepare(server, cards: int) -> str:
    server.cli("cards", "issue", "100001", str(100000 + cards))
    key = server.enrol("cashier")["device_key"]
    ops = [{"id": str(uuid.uuid4()), "type": "sale", "at": iso_ago(hours=1),
            "payload": {"card_number": str(100001 + i % cards), "amount": 1_000 + i}} for i in range(cards * 3)]
    for i in range(0, len(ops), 500):
        r = requests.post(f"{server.url}/api/v1/operations:batch", json={"operations": ops[i:i + 500]},
                          headers={"Authorization": f"Bearer {key}"}, timeout=60)
        r.raise_for_status()
    return key


def serve(server, workers: int) -> subprocess.Popen:
    """`store-server serve --workers N` as an operator would start it."""
    proc = subprocess.Popen([sys.executable, "-m", "store_server.cli", "--config", str(server.config_path), "serve",
                             "--port", str(server.port), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"{server.url}/api/v1/openapi.json", proc, START_DEADLINE)
    except BaseException:
        proc.kill()
        raise
    time.sleep(1.0 if workers > 1 else 0)  # let every worker come up, not just the first
    return proc


async def client(port: int, key: str, cards: int, until: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random()
    try:
        while time.perf_counter() < until:
            number = 100001 + rng.randrange(cards)
            started = time.perf_counter()
            writer.write(f"GET /api/v1/cards/{number} HTTP/1.1\r\nHost: bench\r\n"
                         f"Authorization: Bearer {key}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


async def run(port: int, key: str, clients: int, seconds: float, cards: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(client(port, key, cards, until, latencies, errors) for _ in range(clients)))
    return latencies, len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="server processes (store-server serve --workers)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = init_demo_server(Path(tmp))
        with server.config_path.open("a", encoding="utf-8") as f:
            # One key stands for all 50 clients here; a real device is capped far lower (docs/server.md).
            f.write("\n[limits]\ncard_lookups_per_minute = 1000000000\n")
        server.start()
        try:
            key = prepare(server, args.cards)
        finally:
            server.stop()
        proc = serve(server, args.workers)
        try:
            asyncio.run(run(server.port, key, args.clients, 1.0, args.cards))  # warm-up
            latencies, errors = asyncio.run(run(server.port, key, args.clients, args.seconds, args.cards))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"server_lookup: {len(latencies) / args.seconds:,.0f} look-ups/s, p50 "
          f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99:.1f} ms, {args.clients} clients, "
          f"{args.workers} worker(s), {args.seconds:g} s, {errors} errors")


if __name__ == "__main__":
    main()
