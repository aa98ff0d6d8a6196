"""A chain's shop day against several real `store-server serve` processes on one PostgreSQL database.

Measures: throughput (requests/s), card look-up p50/p99, batch (POST /operations:batch) p50/p99, errors
(5xx and dropped connections), and whether the server's ledger equals what the devices were told, card by
card. Goals (issue 19): look-up p99 <= 100 ms, batch p99 <= 1 s, 0 errors, 0 discrepancies.

Set-up: a chain of --shops shops (shops.add, as `store-server shops add` does), each with --devices cashier
tills enrolled over HTTP with their shop's own one-time enrolment token, so every device has its own key
and shop. --processes server processes (each its own `store-server serve`, as on separate hosts) share the
database; each device talks to one of them over its own keep-alive connection. The shop is the races' lab shop
(tests/support/races.py Fleet): bonus payments need no SMS code, the device and shop-wide code caps are lifted.

The day: every device serves a customer every --pause seconds on average (exponential gaps): it looks the
card up, then posts the receipt; every third receipt pays part of it with the bonuses the look-up showed.
One customer in ten returns an earlier receipt of ANOTHER shop instead, whole; one in twenty asks for an
SMS code and types it in (the console SMS gateway's file is the phone, as in the tests). The client keeps,
per card, the accruals, bonus payments, bonuses given back and taken back that the server's answers
reported, and after the day compares them with the ledger's sum per card.

Anchor, same run, same processes and client: the same closed-loop look-up load (--anchor-clients
connections for --anchor-seconds) against the store server and against the bare FastAPI app of
benchmarks/bare_app.py (same uvicorn protocol); printed with the ratio.

    .venv/bin/python benchmarks/chain.py [--seconds 60] [--shops 200] [--devices 5] [--processes 2]
                                         [--pause 10] [--sqlite] [--timeline 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from store_server import devices, shops
from store_server.data.db import ledger  # noqa: E402
from store_server.ledger import operations  # noqa: E402
from tests.support.races import Fleet, new_phone, percentile  # noqa: E402
from tests.support.server import START_DEADLINE, free_port, wait_ready  # noqa: E402

FIRST_CARD, CARDS = 200_001, 2_000  # the range Fleet issues


@dataclass
class Day:
    """What the devices saw during the day."""
    lookups: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    timeline: list[tuple[float, str, float]] = field(default_factory=list)  # (seconds into the day, kind, latency)
    batches: list[float] = field(default_factory=list)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    expected: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # card -> balance per the answers
    receipts: list[tuple[str, str, int]] = field(default_factory=list)  # (sale id, shop, amount) not returned yet


class Connection:
    """One keep-alive HTTP/1.1 connection, a few lines of asyncio so the client takes little CPU."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: chain\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        try:
            raw = await self._send(head + data)
            length = int(raw.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            payload = await self.reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as e:
            self.close()
            return 0, {"error": repr(e)}
        if b"connection: close" in raw.lower():
            self.close()
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {"text": payload[:200].decode(errors="replace")}
        return int(raw[9:12]), parsed if isinstance(parsed, dict) else {"data": parsed}

    async def _send(self, request: bytes) -> bytes:
        """Writes the request and reads the answer's head. A kept-alive connection the server closed while the
        till was idle (uvicorn's keep-alive timeout) is opened again and the request sent once more, as
        urllib3 does for the kiosk; operations carry their id, so a repeat is a duplicate, not a second sale."""
        for attempt in (1, 2):
            reused = self.writer is not None
            if self.writer is None or self.reader.at_eof():
                self.close()
                reused = False
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.writer.write(request)
                return await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionResetError, asyncio.IncompleteReadError) as e:
                self.close()
                if not reused or attempt == 2 or (isinstance(e, asyncio.IncompleteReadError) and e.partial):
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def op(type_: str, **payload) -> dict:
    return {"id": str(uuid.uuid4()), "type": type_, "at": datetime.now(UTC).isoformat(), "payload": payload}


# set-up ---------------------------------------------------------------------------------------------------

def start_fleet(root: Path, args) -> tuple[Fleet, object]:
    cluster, url = None, None
    if not args.sqlite:
        from tests.server.pg import Cluster

        cluster = Cluster().start()
        url = cluster.new_database()
    fleet = Fleet(root, args.processes, url)
    with fleet.servers[0].config_path.open("a", encoding="utf-8") as f:
        # The anchor's one key stands for 50 clients; a till of the day stays far below the default cap.
        f.write("\n[limits]\ncard_lookups_per_minute = 1000000000\n")
    fleet.start(devices_per_role=0)
    return fleet, cluster


def open_shops(fleet: Fleet, count: int) -> list[str]:
    codes = [f"S{i:03d}" for i in range(1, count + 1)]
    with fleet.engine.begin() as conn:
        for code in codes:
            shops.add(conn, code, name=f"Shop {code}")
    return codes


def enrol_devices(fleet: Fleet, codes: list[str], per_shop: int) -> list[dict]:
    """Each till enrols over HTTP with a one-time token of its shop (fired 50 at a time)."""
    calls = []
    with fleet.engine.begin() as conn:
        for code in codes:
            for _ in range(per_shop):
                token = devices.create_enrolment_token(conn, role="cashier", shop=code)
                calls.append(("POST", "/api/v1/devices/enrol", None,
                              {"enrolment_token": token, "name": f"till of {code}", "role": "cashier"}))
    tills = []
    for first in range(0, len(calls), 50):
        for answer in fleet.fire(calls[first:first + 50]):
            if answer.status != 200:
                raise SystemExit(f"enrolment failed: {answer.status} {answer.body}")
            tills.append({"id": answer.body["device_id"], "key": answer.body["device_key"],
                          "shop": answer.body["shop"]})
    return tills


def seed_balances(fleet: Fleet, day: Day, till: dict) -> None:
    """Every card starts with some bonuses: a sale each, applied in-process in batches, counted as sent."""
    device = {"id": till["id"], "role": "cashier", "shop": till["shop"]}
    sales = [op("sale", card_number=str(FIRST_CARD + i), amount=10_000) for i in range(CARDS)]
    for first in range(0, CARDS, 500):
        chunk = [{**o, "at": datetime.fromisoformat(o["at"])} for o in sales[first:first + 500]]
        for sale, result in zip(chunk, operations.apply_batch(fleet.engine, chunk, device), strict=True):
            if result["status"] != "applied":
                raise SystemExit(f"seeding failed: {result}")
            day.expected[sale["payload"]["card_number"]] += result["result"]["accrued"]


# the day --------------------------------------------------------------------------------------------------

async def timed(day: Day, kind: str, conn: Connection, method: str, path: str, key: str,
                body: dict | None = None) -> tuple[int, dict]:
    started = time.perf_counter()
    status, answer = await conn.request(method, path, key, body)
    took = time.perf_counter() - started
    (day.lookups if kind == "lookup" else day.batches if kind in ("receipt", "return") else []).append(took)
    day.timeline.append((started - day.started, kind, took))
    day.requests += 1
    day.counts[kind] += 1
    if status == 0 or status >= 500:
        day.errors.append(f"{kind}: {status} {str(answer)[:200]}")
    elif status >= 400:
        day.refused[f"{kind} {status} {answer.get('error')}"] += 1
    return status, answer


def applied(status: int, answer: dict) -> dict | None:
    results = answer.get("results") or [{}]
    return results[0].get("result") if status == 200 and results[0].get("status") == "applied" else None


def note_refusal(day: Day, kind: str, status: int, answer: dict) -> None:
    if status == 200:
        results = answer.get("results") or [{}]
        if results[0].get("status") != "applied":
            day.refused[f"{kind} {results[0].get('status')} {results[0].get('error')}"] += 1


async def receipt(day: Day, conn: Connection, till: dict, rng: random.Random) -> None:
    card = str(FIRST_CARD + rng.randrange(CARDS))
    status, view = await timed(day, "lookup", conn, "GET", f"/api/v1/cards/{card}", till["key"])
    if status != 200:
        return
    amount = rng.randrange(1_000, 20_000)
    payload = {"card_number": card, "amount": amount}
    if rng.random() < 1 / 3 and view.get("balance", 0) > 0:
        payload["bonus_payment"] = min(view["balance"], amount // 2)
    sale = op("sale", **payload)
    status, answer = await timed(day, "receipt", conn, "POST", "/api/v1/operations:batch", till["key"],
                                 {"operations": [sale]})
    if (result := applied(status, answer)) is None:
        note_refusal(day, "receipt", status, answer)
        return
    day.expected[card] += result["accrued"] - result["bonus_payment"]
    day.receipts.append((sale["id"], till["shop"], card, amount))


async def cross_shop_return(day: Day, conn: Connection, till: dict, rng: random.Random) -> None:
    others = [i for i, r in enumerate(day.receipts[-500:]) if r[1] != till["shop"]]
    if not others:
        return
    sale_id, _shop, card, amount = day.receipts.pop(len(day.receipts) - min(500, len(day.receipts)) +
                                                    rng.choice(others))
    status, answer = await timed(day, "return", conn, "POST", "/api/v1/operations:batch", till["key"],
                                 {"operations": [op("return", sale_id=sale_id, amount=amount)]})
    if (result := applied(status, answer)) is None:
        note_refusal(day, "return", status, answer)
        return
    day.expected[card] += result["bonus_payment_refunded"] - result["bonuses_taken"]


async def code_check(day: Day, conn: Connection, till: dict, fleet: Fleet) -> None:
    phone = new_phone()
    status, asked = await timed(day, "otp", conn, "POST", "/api/v1/otp", till["key"],
                                {"phone": phone, "purpose": "register"})
    if status != 200:
        return
    code = fleet.servers[0].last_code(phone)
    await timed(day, "check", conn, "POST", f"/api/v1/otp/{asked['challenge_id']}/check", till["key"],
                {"code": code})


async def till_day(day: Day, fleet: Fleet, till: dict, port: int, until: float, pause: float, seed: int) -> None:
    rng, conn = random.Random(seed), Connection(port)
    await asyncio.sleep(rng.uniform(0, pause))  # tills open through the first gap, not all at once
    while time.perf_counter() < until:
        draw = rng.random()  # by chance, not by count: a short day still has every kind
        if draw < 0.05:
            await code_check(day, conn, till, fleet)
        elif draw < 0.15:
            await cross_shop_return(day, conn, till, rng)
        else:
            await receipt(day, conn, till, rng)
        await asyncio.sleep(min(rng.expovariate(1 / pause), max(0.0, until - time.perf_counter())))
    conn.close()


async def shop_day(fleet: Fleet, tills: list[dict], seconds: float, pause: float, day: Day) -> float:
    until = time.perf_counter() + seconds
    started = day.started = time.perf_counter()
    await asyncio.gather(*(till_day(day, fleet, till, fleet.servers[i % len(fleet.servers)].port, until, pause, i)
                           for i, till in enumerate(tills)))
    return time.perf_counter() - started


# checks and anchor ----------------------------------------------------------------------------------------

def discrepancies(fleet: Fleet, day: Day) -> list[str]:
    with fleet.engine.connect() as conn:
        server = dict(conn.execute(select(ledger.c.card_number, func.sum(ledger.c.amount))
                                   .group_by(ledger.c.card_number)).all())
    cards = set(day.expected) | set(server)
    return [f"card {c}: server {int(server.get(c) or 0)}, devices {day.expected.get(c, 0)}"
            for c in sorted(cards) if int(server.get(c) or 0) != day.expected.get(c, 0)]


async def closed_loop(port: int, key: str, clients: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = [0]
    until = time.perf_counter() + seconds

    async def one(seed: int) -> None:
        rng, conn = random.Random(seed), Connection(port)
        while time.perf_counter() < until:
            started = time.perf_counter()
            status, _ = await conn.request("GET", f"/api/v1/cards/{FIRST_CARD + rng.randrange(CARDS)}", key)
            latencies.append(time.perf_counter() - started)
            errors[0] += status != 200
        conn.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return latencies, errors[0]


def serve_bare(port: int) -> subprocess.Popen:
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bare_app", str(port), "1"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/v1/openapi.json", proc, START_DEADLINE)
    except BaseException:
        proc.kill()
        raise
    return proc


def anchor(fleet: Fleet, till: dict, args) -> tuple[tuple[list[float], int], tuple[list[float], int]]:
    """Closed-loop look-ups on the store server's first process, then on a bare FastAPI app alone."""
    store = asyncio.run(closed_loop(fleet.servers[0].port, till["key"], args.anchor_clients, args.anchor_seconds))
    port = free_port()
    proc = serve_bare(port)
    try:
        bare = asyncio.run(closed_loop(port, till["key"], args.anchor_clients, args.anchor_seconds))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return store, bare


# report ---------------------------------------------------------------------------------------------------

def goal(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(args, day: Day, took: float, wrong: list[str], store, bare, tills: int) -> None:
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    lp50, lp99 = percentile(day.lookups, 50) * 1000, percentile(day.lookups, 99) * 1000
    bp50, bp99 = percentile(day.batches, 50) * 1000, percentile(day.batches, 99) * 1000
    print(f"chain: {args.shops} shops x {args.devices} tills = {tills} devices, {args.processes} server processes, "
          f"{backend}, {took:.0f} s, a customer per till every {args.pause:g} s on average")
    print(f"  throughput {day.requests / took:,.1f} requests/s ({dict(day.counts)})")
    print(f"  look-up p50 {lp50:.1f} ms  p99 {lp99:.1f} ms   {goal(lp99 <= 100)} (goal p99 <= 100 ms)")
    print(f"  batch   p50 {bp50:.1f} ms  p99 {bp99:.1f} ms   {goal(bp99 <= 1000)} (goal p99 <= 1 s)")
    print(f"  errors {len(day.errors)}   {goal(not day.errors)} (goal 0)" +
          "".join(f"\n    {e}" for e in day.errors[:5]))
    print(f"  refused (not errors): {dict(day.refused) or 'none'}")
    print(f"  ledger vs devices: {len(day.expected)} cards, {len(wrong)} discrepancies   {goal(not wrong)} (goal 0)" +
          "".join(f"\n    {w}" for w in wrong[:5]))
    (s_lat, s_err), (b_lat, b_err) = store, bare
    s_rate, b_rate = len(s_lat) / args.anchor_seconds, len(b_lat) / args.anchor_seconds
    print(f"  anchor ({args.anchor_clients} clients, closed loop, one process, after the day): store look-ups "
          f"{s_rate:,.0f}/s p99 {percentile(s_lat, 99) * 1000:.1f} ms ({s_err} non-200); bare FastAPI "
          f"{b_rate:,.0f}/s p99 {percentile(b_lat, 99) * 1000:.1f} ms ({b_err} non-200); "
          f"ratio {s_rate / max(b_rate, 1):.2f}")


def timeline(day: Day, step: float) -> None:
    """Look-up and batch latencies per `step` seconds of the day: whether the slow look-ups come in bursts
    (the tills opening, a checkpoint, a pile of batches) or are spread evenly (the CPU shared)."""
    print(f"  per {step:g} s: start, look-ups (p50 / p99 / max ms), batches (p50 / max ms), requests")
    for first in range(0, int(max((t for t, _, _ in day.timeline), default=0) // step) + 1):
        window = [(kind, took) for t, kind, took in day.timeline if first * step <= t < (first + 1) * step]
        looks = [took for kind, took in window if kind == "lookup"]
        batches = [took for kind, took in window if kind in ("receipt", "return")]
        if looks and batches:
            ms = [percentile(looks, 50), percentile(looks, 99), max(looks), percentile(batches, 50), max(batches)]
            print(f"    {first * step:5.0f} s  " + " / ".join(f"{v * 1000:6.1f}" for v in ms[:3]) + "   " +
                  " / ".join(f"{v * 1000:6.1f}" for v in ms[3:]) + f"   {len(window)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the shop day")
    parser.add_argument("--shops", type=int, default=200)
    parser.add_argument("--devices", type=int, default=5, help="cashier tills per shop")
    parser.add_argument("--processes", type=int, default=2, help="store-server serve processes")
    parser.add_argument("--pause", type=float, default=30, help="mean seconds between a till's customers")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--anchor-clients", type=int, default=50)
    parser.add_argument("--anchor-seconds", type=float, default=5)
    parser.add_argument("--timeline", type=float, metavar="SECONDS",
                        help="also print the latencies per this many seconds of the day")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fleet, cluster = start_fleet(Path(tmp), args)
        try:
            tills = enrol_devices(fleet, open_shops(fleet, args.shops), args.devices)
            day = Day()
            seed_balances(fleet, day, tills[0])
            took = asyncio.run(shop_day(fleet, tills, args.seconds, args.pause, day))
            wrong = discrepancies(fleet, day)
            store, bare = anchor(fleet, tills[0], args)
        finally:
            fleet.stop()
            if cluster is not None:
                cluster.stop()
    report(args, day, took, wrong, store, bare, len(tills))
    if args.timeline:
        timeline(day, args.timeline)


if __name__ == "__main__":
    main()
