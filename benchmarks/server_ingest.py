"""Operations per second a real `store-server serve` ingests through POST /operations:batch, beside a raw
`executemany` of the same rows (the anchor, measured in the same run; goal: ratio >= 0.5).

Starts a demo store server on loopback, then one cashier device sends sales in batches of 500 (the
kiosk's batch size) over a keep-alive connection, one batch after another, as a till draining its
outbox does. A second run sends the same batches again: the retry case, all duplicates.

    .venv/bin/python benchmarks/server_ingest.py [--operations 20000] [--batch 500] [--mixed]
                                                 [--backend sqlite|postgresql|both]

--mixed puts a redemption after every ten sales: the sales between them go in bulk, each redemption one by one.
The last line counts the statements one batch sends to SQLite, with the bulk shortcut and without.

The anchor copies the rows the server wrote for those operations (operations, receipt numbers, sales, ledger)
into a fresh database of the same schema and settings (WAL, synchronous=FULL, foreign keys checked, the cards and
devices they point at copied first) with sqlite3's executemany, one transaction per batch, as fast as SQLite takes
them: what is left to the server is HTTP, JSON, validation and the ledger's checks.

On PostgreSQL (a throwaway cluster of Debian's postgresql, fsync off as in the tests) the anchor is psycopg's
executemany of the same rows into a second database of the same cluster, one transaction per batch, and the
CPU per operation counts the database server's processes too (most of an INSERT's work happens there).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server_lookup import cpu_seconds  # noqa: E402 - beside this file (benchmarks/)

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


def send_all(session: requests.Session, url: str, key: str, chunks: list[list[dict]],
             pid: int | None = None) -> tuple[float, dict, float]:
    """Seconds the batches took, their results' statuses and the server process's CPU seconds meanwhile."""
    statuses: dict[str, int] = {}
    started, cpu = time.perf_counter(), cpu_seconds(pid) if pid else 0.0
    for chunk in chunks:
        r = session.post(f"{url}/api/v1/operations:batch", json={"operations": chunk},
                         headers={"Authorization": f"Bearer {key}"}, timeout=120)
        r.raise_for_status()
        for res in r.json()["results"]:
            statuses[res["status"]] = statuses.get(res["status"], 0) + 1
    return time.perf_counter() - started, statuses, (cpu_seconds(pid) - cpu) if pid else 0.0


WRITTEN = ("operations", "receipts", "sales", "ledger")  # what a batch of sales writes, in foreign-key order


def batch_parts(tables: dict[str, tuple[list[str], list[tuple]]], batch: int) -> list[dict[str, list[tuple]]]:
    """The anchor's transactions: each writes one batch's operations and the rows that point at them (grouped
    untimed), so the foreign keys hold whatever the mix: a redemption writes ledger rows but no sale."""
    op_columns, op_rows = tables["operations"]
    id_at = op_columns.index("id")
    parts = []
    for first in range(0, len(op_rows), batch):
        chunk = op_rows[first:first + batch]
        ids = {row[id_at] for row in chunk}
        part = {"operations": chunk}
        for name in WRITTEN[1:]:
            columns, rows = tables[name]
            at = columns.index("operation_id")
            part[name] = [row for row in rows if row[at] in ids]
        parts.append(part)
    return parts


def raw_anchor(database: Path, scratch: Path, batch: int) -> tuple[float, float]:
    """Seconds (wall, CPU) a raw executemany takes to write the server's rows again, a transaction per `batch` ops.

    Every row the sales wrote (operations, receipt numbers, sales, ledger) goes into a fresh database of the same
    schema and the same settings as the server's (WAL, synchronous=FULL, foreign keys checked); the rows those
    point at (cards, devices, the shop) are copied first, untimed.
    """
    from store_server.data.db import create_schema, make_engine

    engine = make_engine(f"sqlite:///{scratch}")
    create_schema(engine)
    engine.dispose()
    source = sqlite3.connect(database)
    names = [r[0] for r in source.execute("select name from sqlite_master where type = 'table' "
                                          "and name not like 'sqlite_%' and name != 'alembic_version'")]
    tables = {}
    for table in [n for n in names if n not in WRITTEN] + list(WRITTEN):
        cursor = source.execute(f"select * from {table} where "  # noqa: S608 - table names from the schema
                                + ("device_id != 'server'" if table == "operations" else "1"))
        columns = [d[0] for d in cursor.description]
        tables[table] = (columns, cursor.fetchall())
    source.close()
    target = sqlite3.connect(scratch, isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=FULL")
    target.execute("BEGIN")
    for table, (columns, rows) in tables.items():
        if table not in WRITTEN:
            target.execute(f"delete from {table}")  # noqa: S608 - rows create_schema seeded, if any
            target.executemany(f"insert into {table} ({', '.join(columns)}) "  # noqa: S608
                               f"values ({', '.join('?' * len(columns))})", rows)
    target.execute("COMMIT")
    target.execute("PRAGMA foreign_keys=ON")
    parts = batch_parts(tables, batch)
    started, cpu = time.perf_counter(), time.process_time()
    for part in parts:
        target.execute("BEGIN")
        for table in WRITTEN:
            columns = tables[table][0]
            target.executemany(f"insert into {table} ({', '.join(columns)}) "  # noqa: S608
                               f"values ({', '.join('?' * len(columns))})", part[table])
        target.execute("COMMIT")
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    target.close()
    return took, cpu


def raw_anchor_pg(source_url: str, target_url: str, batch: int, postmaster: int) -> tuple[float, float]:
    """raw_anchor on PostgreSQL: seconds (wall; CPU of this process and the database server's) psycopg's
    executemany takes to write the server's rows again into `target_url`, a transaction per `batch` ops."""
    import psycopg
    from psycopg.types.json import Json
    from sqlalchemy import JSON

    from store_server.data.db import create_schema, make_engine, metadata

    engine = make_engine(target_url)
    create_schema(engine)
    engine.dispose()

    def dsn(url: str) -> str:
        return url.replace("postgresql+psycopg://", "postgresql://")

    tables = {}
    with psycopg.connect(dsn(source_url)) as source:
        for table in metadata.sorted_tables:
            where = " where device_id != 'server'" if table.name == "operations" else ""
            cursor = source.execute(f"select * from {table.name}{where}")  # noqa: S608 - names from the schema
            columns = [d.name for d in cursor.description]
            json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
            rows = [tuple(Json(v) if i in json_at and v is not None else v for i, v in enumerate(row))
                    for row in cursor.fetchall()]
            tables[table.name] = (columns, rows)
    with psycopg.connect(dsn(target_url)) as target:
        # The rows they point at first, untimed, foreign keys not checked while copying them.
        target.execute("SET session_replication_role = replica")
        for name, (columns, rows) in tables.items():
            if name not in WRITTEN:
                target.execute(f"delete from {name}")  # noqa: S608 - rows create_schema seeded, if any
                if rows:
                    target.cursor().executemany(f"insert into {name} ({', '.join(columns)}) "  # noqa: S608
                                                f"values ({', '.join(['%s'] * len(columns))})", rows)
        target.execute("SET session_replication_role = origin")
        target.commit()
        parts = batch_parts(tables, batch)
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), cpu_seconds(postmaster)
        for part in parts:
            with target.transaction(), target.cursor() as cursor:
                for name in WRITTEN:
                    columns = tables[name][0]
                    if part[name]:
                        cursor.executemany(f"insert into {name} ({', '.join(columns)}) "  # noqa: S608
                                           f"values ({', '.join(['%s'] * len(columns))})", part[name])
        took = time.perf_counter() - started
        cpu = time.process_time() - cpu + cpu_seconds(postmaster) - db_cpu
    return took, cpu


def round_trips(scratch: Path, batch: int, cards: int, mixed: bool) -> tuple[int, int]:
    """Statements sent to the database for one batch, with the bulk shortcut and one by one (in process)."""
    from sqlalchemy import event

    from store_server import cards as card_data
    from store_server import shop
    from store_server.data.db import create_schema, make_engine
    from store_server.ledger import operations

    counts = []
    for bulk in (True, False):
        engine = make_engine(f"sqlite:///{scratch / f'trips-{bulk}.db'}")
        create_schema(engine)
        with engine.begin() as conn:
            shop.seed_demo(conn)
            card_data.issue_range(conn, 100001, 100000 + cards)
            shop.set_setting(conn, "no_code_limit", 1000)
        device = {"id": "bench-till", "role": "cashier"}

        def parsed(mixed_ops: bool) -> list[dict]:  # as the API hands them over: times parsed
            return [{**op, "at": datetime.fromisoformat(op["at"])} for op in batches(batch, batch, cards, mixed_ops)[0]]

        operations.apply_batch(engine, parsed(False), device)  # balances on the cards, as in the server run
        seen = []
        event.listen(engine, "before_cursor_execute", lambda *a, seen=seen: seen.append(1))
        operations.BULK = bulk
        operations.apply_batch(engine, parsed(mixed), device)
        counts.append(len(seen))
        engine.dispose()
    operations.BULK = True
    return counts[0], counts[1]


def run(args, backend: str) -> dict:
    """One backend's figures: the server's run, its retry, the anchor (wall and CPU seconds)."""
    cluster = None
    with tempfile.TemporaryDirectory() as tmp:
        server = init_demo_server(Path(tmp))
        if backend == "postgresql":
            from tests.server.pg import Cluster

            cluster = Cluster().start()
            url, anchor_url = cluster.new_database(), cluster.new_database()
            server.use_database(url)
        try:
            server.cli("cards", "issue", "100001", str(100000 + args.cards))
            # Redemptions below the no-code limit, so the mixed run measures the ledger, not SMS codes.
            server.cli("settings", "set", "no_code_limit", "1000")
            postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0]) if cluster else None
            server.start()
            try:
                key = server.enrol("cashier")["device_key"]
                chunks = batches(args.operations, args.batch, args.cards, args.mixed)
                with requests.Session() as session:
                    send_all(session, server.url, key, batches(args.batch, args.batch, args.cards, False))  # warm-up
                    db_cpu = cpu_seconds(postmaster) if postmaster else 0.0
                    took, statuses, server_cpu = send_all(session, server.url, key, chunks, server.proc.pid)
                    db_cpu = cpu_seconds(postmaster) - db_cpu if postmaster else 0.0
                    again, dup, _ = send_all(session, server.url, key, chunks)
            finally:
                server.stop()
            if cluster is not None:
                anchor, anchor_cpu = raw_anchor_pg(url, anchor_url, args.batch, postmaster)
            else:
                anchor, anchor_cpu = raw_anchor(server.database, Path(tmp) / "anchor.db", args.batch)
        finally:
            if cluster is not None:
                cluster.stop()
    return dict(took=took, statuses=statuses, server_cpu=server_cpu + db_cpu, db_cpu=db_cpu, again=again, dup=dup,
                anchor=anchor, anchor_cpu=anchor_cpu, load=os.getloadavg()[0])


def report(args, backend: str, r: dict) -> None:
    kind = "mixed sales+redemptions" if args.mixed else "sales"
    ops = args.operations + args.batch  # the anchor writes the warm-up's rows too
    name = "SQLite" if backend == "sqlite" else "PostgreSQL"
    print(f"server_ingest ({name}): {args.operations / r['took']:,.0f} operations/s ({kind}, batches of "
          f"{args.batch}, {args.operations} ops in {r['took']:.2f} s, {r['statuses']}); retry of the same batches: "
          f"{args.operations / r['again']:,.0f} operations/s ({r['dup']})")
    print(f"  anchor: raw executemany of the same rows {ops / r['anchor']:,.0f} operations/s; "
          f"ratio {args.operations / r['took'] / (ops / r['anchor']):.2f} (goal >= 0.5)")
    # CPU per operation holds on a loaded machine, where two wall-clock runs seconds apart do not.
    who = "server" if backend == "sqlite" else (
        f"server + database ({(r['server_cpu'] - r['db_cpu']) / args.operations * 1e6:.0f} + "
        f"{r['db_cpu'] / args.operations * 1e6:.0f})")
    print(f"  CPU per operation: {who} {r['server_cpu'] / args.operations * 1e6:.0f} us, anchor "
          f"{r['anchor_cpu'] / ops * 1e6:.0f} us; ratio by CPU "
          f"{r['anchor_cpu'] / ops / (r['server_cpu'] / args.operations):.2f} "
          f"(load average {r['load']:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--mixed", action="store_true")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite",
                        help="postgresql: a throwaway cluster of Debian's postgresql; both: one after the other")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {backend: run(args, backend) for backend in backends}
    for backend, r in results.items():
        report(args, backend, r)
    with tempfile.TemporaryDirectory() as tmp:
        trips, one_by_one = round_trips(Path(tmp), args.batch, args.cards, args.mixed)
    print(f"  round trips for one batch of {args.batch} (SQLite): {trips} statements (one by one: {one_by_one}; "
          f"{trips / args.batch:.2f} per operation)")


if __name__ == "__main__":
    main()
