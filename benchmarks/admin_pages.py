"""Back-office page times on a big shop: p50/p95 of search, card page and journal beside a device card look-up.

Builds (once, cached outside the checkout) a database of 100,000 customers with a card each and 1,000,000
operations with their ledger rows, spread over a year; starts a real `store-server serve` on a copy of it,
signs in as the owner and asks each page in turn over keep-alive HTTP. The anchor is the device API's card
look-up (GET /api/v1/cards/N), the server's hottest call, measured in the same run. Goals: p95 <= 150 ms for
search, card page and journal (issue 16); <= 300 ms for the dashboard and the reports (issue 17), asked for
periods inside the shop's year (today, 7 and 30 days up to a day; a week to a year grouped by day, week, month,
till, cashier, card type, tier; visit segments; SMS). The report cache (store_server/reporting/summary.py) is
built before the clock starts, as a running shop has it; it is kept in the cached database.

    .venv/bin/python benchmarks/admin_pages.py [--customers 100000] [--operations 1000000] [--samples 200]
    .venv/bin/python benchmarks/admin_pages.py --postgresql   # the same on a throwaway PostgreSQL cluster
    KIOSK_BENCH_PG_URL=postgresql+psycopg://... .venv/bin/python benchmarks/admin_pages.py   # or on yours
                                                  # (filled once: a later run on the same database reuses it)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import ServerProcess, free_port  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "loyalty-kiosk" / "bench"
PASSWORD = "benchmark password"
FIRST = 2_000_001  # card numbers of the big shop
NAMES = ("Olena", "Taras", "Iryna", "Mykola", "Oksana", "Petro", "Anna", "Serhii", "Natalia", "Andrii")
SURNAMES = ("Kovalenko", "Shevchenko", "Bondarenko", "Tkachenko", "Kravchenko", "Melnyk", "Boiko", "Moroz")


def phone(i: int) -> str:
    return f"+38050{i:07d}"


def fill(url: str, customers: int, operations: int) -> None:
    """Writes the shop straight into the tables (the API would take hours for a million operations)."""
    from sqlalchemy import insert

    from store_server import shops
    from store_server.data.db import cards, devices, ledger, make_engine
    from store_server.data.db import customers as customers_t
    from store_server.data.db import operations as ops_t
    from store_server.data.db import sales as sales_t

    engine = make_engine(url)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    rng = random.Random(7)
    with engine.begin() as conn:
        home = shops.ensure_default(conn)
        conn.execute(insert(devices), [dict(id=f"till-{i}", name=f"Till {i}", role="cashier", shop=home,
                                            key_hash=uuid.uuid4().hex + uuid.uuid4().hex, created_at=start)
                                       for i in range(1, 6)])
        for lo in range(0, customers, 10_000):
            hi = min(customers, lo + 10_000)
            conn.execute(insert(customers_t), [dict(
                id=i + 1, phone=phone(i), name=f"{NAMES[i % len(NAMES)]} {SURNAMES[i // 10 % len(SURNAMES)]} {i}",
                consent_at=start, marketing_opt_in=bool(i % 3), created_at=start) for i in range(lo, hi)])
            conn.execute(insert(cards), [dict(
                number=str(FIRST + i), state="active", kind="bonus", discount_percent=0, card_type="standard",
                digital=False, customer_id=i + 1, created_at=start, activated_at=start) for i in range(lo, hi)])
    seconds = 365 * 24 * 3600
    for lo in range(0, operations, 20_000):
        hi = min(operations, lo + 20_000)
        op_rows, ledger_rows, sale_rows = [], [], []
        for n in range(lo, hi):
            op_id = f"{n:08d}-bench-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
            card = str(FIRST + rng.randrange(customers))
            at = start + timedelta(seconds=seconds * n // operations)
            amount = rng.randrange(1_000, 200_000)
            rejected = n % 50 == 0
            op_rows.append(dict(id=op_id, device_id=f"till-{n % 5 + 1}", type="sale", at=at, received_at=at,
                                shop=home, cashier=NAMES[n % len(NAMES)], card_number=card,
                                payload={"card_number": card, "amount": amount},
                                status="rejected" if rejected else "applied",
                                error="card_blocked" if rejected else None,
                                result={"accrued": amount // 10}))
            if not rejected:
                ledger_rows.append(dict(card_number=card, operation_id=op_id, kind="accrual", amount=amount // 10,
                                        at=at))
                sale_rows.append(dict(operation_id=op_id, card_number=card, customer_id=int(card) - FIRST + 1, at=at,
                                      amount=amount, discount=0, redeemed=0, paid=amount, accrued=amount // 10,
                                      returned_amount=0, accrual_taken=0, redeem_refunded=0, money_refunded=0))
        with engine.begin() as conn:
            conn.execute(insert(ops_t), op_rows)
            conn.execute(insert(ledger), ledger_rows)
            conn.execute(insert(sales_t), sale_rows)
        print(f"\rbuilding: {hi:,}/{operations:,} operations", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    engine.dispose()


def prepare_reports(url: str) -> None:
    """A cache built before the bench's shop had a sales table gets one from its operations (each applied sale,
    as the server books it); then the report cache is brought up to date, as a running shop keeps it."""
    from sqlalchemy import delete, func, insert, literal, select

    from store_server.data.db import cards, make_engine, operations, report_state, sales
    from store_server.reporting import summary

    engine = make_engine(url)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(sales)).scalar_one() == 0:
            o = operations.c
            amount = o.payload["amount"].as_integer()
            zero = literal(0)
            conn.execute(insert(sales).from_select(
                ["operation_id", "card_number", "customer_id", "at", "amount", "discount", "redeemed", "paid",
                 "accrued", "returned_amount", "accrual_taken", "redeem_refunded", "money_refunded"],
                select(o.id, o.card_number, cards.c.customer_id, o.at, amount, zero, zero, amount,
                       o.result["accrued"].as_integer(), zero, zero, zero, zero)
                .select_from(operations.join(cards, cards.c.number == o.card_number))
                .where(o.type == "sale", o.status == "applied")))
            conn.execute(delete(report_state))  # what the cache held was built without sales
    started = time.perf_counter()
    done = summary.refresh(engine)
    if done.days:
        print(f"report cache: {done.days} shop-days built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    engine.dispose()


def init(data_dir: Path, database_url: str | None) -> ServerProcess:
    port = free_port()
    # --demo: the console SMS gateway (nothing is sent here) and a 10 % rule; the big shop is added on top
    subprocess.run([sys.executable, "-m", "store_server.cli", "init", "--demo", "--data-dir", str(data_dir), "--port",
                    str(port)], check=True, capture_output=True)
    server = ServerProcess(data_dir, port)
    if database_url:
        server.use_database(database_url)
    # Not checked: a PostgreSQL shop filled by an earlier run (KIOSK_BENCH_PG_URL) has its owner already.
    subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(server.config_path), "admin", "add",
                    "owner", "--role", "owner"], input=PASSWORD + "\n", text=True, capture_output=True)
    return server


def sqlite_shop(customers: int, operations: int, tmp: Path) -> ServerProcess:
    from store_server.data import migrate
    from store_server.data.db import make_engine

    cached = CACHE / f"admin-{customers}-{operations}.db"
    server = init(tmp, None)
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        fill(f"sqlite:///{server.database}", customers, operations)
        prepare_reports(f"sqlite:///{server.database}")
        subprocess.run(["sqlite3", str(server.database), "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;"], check=False,
                       capture_output=True)
        shutil.copy(server.database, cached.with_suffix(".tmp"))
        cached.with_suffix(".tmp").rename(cached)
    else:
        # A cache built by an older release: brought to this one's schema (new indexes are built once, here).
        engine = make_engine(f"sqlite:///{cached}")
        migrate.upgrade(engine)
        engine.dispose()
        prepare_reports(f"sqlite:///{cached}")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{server.database}{suffix}").unlink(missing_ok=True)
        shutil.copy(cached, server.database)
        # the account made by init lived in the database just replaced
        subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(server.config_path), "admin",
                        "add", "owner", "--role", "owner"], input=PASSWORD + "\n", text=True, capture_output=True)
    return server


def sign_in(url: str) -> requests.Session:
    s = requests.Session()
    token = re.search(r'name="csrf" value="([^"]+)"', s.get(f"{url}/admin/login").text).group(1)
    r = s.post(f"{url}/admin/login", data={"name": "owner", "password": PASSWORD, "csrf": token},
               allow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return s


def timed(session: requests.Session, urls: list[str], headers: dict | None = None) -> list[float]:
    times = []
    for url in urls:
        started = time.perf_counter()
        r = session.get(url, headers=headers, timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
    return times


LAST_DAY = datetime(2026, 10, 31).date()
GOALS = {"dashboard": 300, "reports": 300}  # ms, p95; the other pages 150


def report_url(url: str, i: int, rng: random.Random) -> str:
    """Every report the page offers, for periods from a week to a year ending on a day of the shop's year."""
    until = LAST_DAY - timedelta(days=rng.randrange(200))
    since = until - timedelta(days=(6, 29, 90, 364)[i // 12 % 4])
    kind, by = [("sales", by) for by in ("day", "week", "month", "device", "cashier", "card_type", "tier", "shop")
                ][i % 8] if i % 12 < 8 else (("visits", "day") if i % 12 < 10 else ("sms", "day"))
    return f"{url}/admin/reports?kind={kind}&by={by}&since={since.isoformat()}&until={until.isoformat()}"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[max(0, int(len(values) * p) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--operations", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--postgresql", action="store_true", help="a throwaway cluster of Debian's postgresql")
    parser.add_argument("--pages", help="only these pages, comma-separated (e.g. dashboard,reports)")
    args = parser.parse_args()
    pg_url = os.environ.get("KIOSK_BENCH_PG_URL")
    cluster = None
    if args.postgresql and not pg_url:
        from tests.server.pg import Cluster

        cluster = Cluster().start()
        pg_url = cluster.new_database()
    try:
        run(args, pg_url)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args, pg_url: str | None) -> None:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        if pg_url:
            server = init(Path(tmp), pg_url)  # brings a shop an earlier run filled to this release's schema
            from sqlalchemy import text

            from store_server.data.db import make_engine

            engine = make_engine(pg_url)
            with engine.connect() as conn:
                filled = conn.execute(text("SELECT count(*) FROM customers")).scalar() >= args.customers
            if not filled:  # KIOSK_BENCH_PG_URL of an earlier run: its shop is used again (filling takes minutes)
                fill(pg_url, args.customers, args.operations)
            prepare_reports(pg_url)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
            engine.dispose()
        else:
            server = sqlite_shop(args.customers, args.operations, Path(tmp))
        server.start()
        try:
            url = server.url
            device = requests.post(f"{url}/api/v1/devices/enrol", timeout=10, json={
                "enrolment_token": server.enrolment_token("cashier"), "name": "bench", "role": "cashier"}).json()
            s = sign_in(url)
            n = args.samples

            def some_card() -> int:
                return rng.randrange(args.customers)

            # the shapes people type: a card number, a phone as said aloud, part of a name
            searches = []
            for i in range(n):
                k = some_card()
                searches.append([f"{FIRST + k}", f"050 {k // 10000:03d} {k % 10000:04d}"[:16],
                                 f"{NAMES[k % len(NAMES)]} {SURNAMES[k // 10 % len(SURNAMES)]} {k}"][i % 3])
            pages = {
                "search": [f"{url}/admin/customers?q={q}" for q in searches],
                "card page": [f"{url}/admin/cards/{FIRST + some_card()}" for _ in range(n)],
                "journal": [f"{url}/admin/journal" + (
                    "" if i % 4 == 0 else f"?since=2026-0{1 + i % 9}-01&until=2026-0{1 + i % 9}-07" if i % 4 == 1
                    else f"?device=till-{1 + i % 5}&status=rejected" if i % 4 == 2
                    else f"?card={FIRST + some_card()}") for i in range(n)],
                # the shop's year is 2025-11-01 .. 2026-10-31 (fill): days inside it
                "dashboard": [f"{url}/admin/dashboard?period={('today', '7', '30')[i % 3]}"
                              f"&on={(LAST_DAY - timedelta(days=rng.randrange(330))).isoformat()}" for i in range(n)],
                "reports": [report_url(url, i, rng) for i in range(n)],
            }
            if args.pages:
                pages = {k: v for k, v in pages.items() if k in args.pages.split(",")}
            session = requests.Session()
            anchor_urls = [f"{url}/api/v1/cards/{FIRST + some_card()}" for _ in range(n)]
            headers = {"Authorization": f"Bearer {device['device_key']}"}
            timed(session, anchor_urls[:20], headers)  # warm-up
            for urls in pages.values():
                timed(s, urls[:10])
            anchor = timed(session, anchor_urls, headers)
            backend = "PostgreSQL" if pg_url else "SQLite"
            print(f"admin_pages ({backend}, {args.customers:,} customers, {args.operations:,} operations, "
                  f"{n} requests each):")
            print(f"  anchor: device card look-up p50 {statistics.median(anchor):.1f} ms, "
                  f"p95 {pct(anchor, .95):.1f} ms")
            for name, urls in pages.items():
                times = timed(s, urls)
                p95 = pct(times, .95)
                goal = GOALS.get(name, 150)
                print(f"  {name}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
                      f"({p95 / pct(anchor, .95):.1f}x the anchor's p95; goal p95 <= {goal} ms: "
                      f"{'met' if p95 <= goal else 'MISSED'})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
