"""Backups taken while sales are written, restored and checked; a SQLite shop moved to another database.

On SQLite always, and on PostgreSQL (pg_dump/pg_restore) with KIOSK_TEST_PG=1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from store_server import shop
from store_server.config import ServerConfig
from store_server.data import backup as bk
from store_server.data.db import create_schema, make_engine, sales
from store_server.ledger import operations
from tests.server import pg

TILL = {"id": "till-1", "role": "cashier"}


def seeded(url: str):
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        shop.seed_demo(conn)
        shop.put(conn, "code_required", {"redeem": False, "discount": False, "return": False})
    return engine


def sale(card: str, amount: int, redeem: int = 0) -> dict:
    return {"id": str(uuid.uuid4()), "type": "sale", "at": datetime.now(UTC), "verification_token": None,
            "cashier": None, "payload": {"card_number": card, "amount": amount, "redeem": redeem}}


class Till(threading.Thread):
    """Writes sales (some spending bonuses) as fast as it can until told to stop."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine, self.stop, self.applied, self.error = make_engine(url), threading.Event(), 0, None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                card = str(10001 + n % 20)
                batch = [sale(card, 10_000 + n, redeem=100 if n % 3 == 0 else 0) for _ in range(5)]
                results = operations.apply_batch(self.engine, batch, TILL)
                self.applied += sum(r["status"] == "applied" for r in results)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.engine.dispose()


def count_sales(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(sales)).scalar_one()


def test_backup_taken_while_sales_are_written_restores_whole(database_url, tmp_path, request):
    engine = seeded(database_url)
    config = ServerConfig(data_dir=tmp_path, database_url=database_url)
    till = Till(database_url)
    till.start()
    try:
        deadline = time.monotonic() + 60
        while till.applied < 50 and time.monotonic() < deadline and till.error is None:
            time.sleep(0.05)
        taken = [bk.backup(config, engine, tmp_path / "backups" / f"b{i}.{'db' if 'sqlite' in database_url else 'x'}")
                 for i in range(2)]
        time.sleep(0.3)
    finally:
        till.stop.set()
        till.join(60)
    assert till.error is None, till.error
    final_sales = count_sales(engine)
    last = taken[-1]
    assert 0 < last.manifest["rows"]["sales"] < final_sales  # taken mid-way, not before or after the writing
    assert last.manifest["ledger_sum"] != 0 and last.manifest["schema"]

    # Restore into a fresh database, as onto a new SD card or a rebuilt server.
    if database_url.startswith("sqlite"):
        fresh_url = f"sqlite:///{tmp_path / 'restored' / 'store.db'}"
    else:
        fresh_url = request.getfixturevalue("pg_cluster").new_database()
    fresh_config = ServerConfig(data_dir=tmp_path / "restored", database_url=fresh_url)
    fresh = make_engine(fresh_url)
    manifest, kept = bk.restore(fresh_config, fresh, last.path)
    assert kept is None  # nothing was there to keep
    with fresh.connect() as conn:
        restored = bk.summary(conn)
        assert bk.ledger_problems(conn) == []
    assert {k: restored[k] for k in ("rows", "ledger_sum", "ledger_by_kind")} == \
           {k: manifest[k] for k in ("rows", "ledger_sum", "ledger_by_kind")}
    # the restored shop takes sales again
    assert operations.apply_batch(fresh, [sale("10001", 5_000)], TILL)[0]["status"] == "applied"

    # Restoring over a live database keeps what it replaced.
    _, kept = bk.restore(config, engine, taken[0].path)
    assert kept is not None and kept.exists()
    assert count_sales(engine) == taken[0].manifest["rows"]["sales"]
    fresh.dispose()
    engine.dispose()


def test_a_damaged_or_tampered_backup_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = seeded(url)
    config = ServerConfig(data_dir=tmp_path, database_url=url)
    operations.apply_batch(engine, [sale("10001", 20_000)], TILL)
    good = bk.backup(config, engine, tmp_path / "b.db")

    bad = tmp_path / "bad.db"
    bad.write_bytes(good.path.read_bytes())
    bk.manifest_path(bad).write_text(bk.manifest_path(good.path).read_text())
    with bad.open("r+b") as f:  # one flipped byte in the middle of the file
        f.seek(bad.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(bk.BackupError, match="does not match its manifest"):
        bk.restore(config, engine, bad)

    lying = json.loads(bk.manifest_path(good.path).read_text())
    lying["ledger_sum"] += 1
    liar = tmp_path / "liar.db"
    liar.write_bytes(good.path.read_bytes())
    bk.manifest_path(liar).write_text(json.dumps(lying))
    with pytest.raises(bk.BackupError, match="ledger_sum"):
        bk.restore(config, engine, liar)
    with pytest.raises(bk.BackupError, match="manifest"):
        bk.restore(config, engine, tmp_path / "store.db")  # a database without a manifest is no backup
    engine.dispose()


def test_backup_folder_usb_stick_and_pruning(tmp_path):
    media = tmp_path / "media"
    assert bk.usb_folder((str(media),)) is None
    stick = media / "pi" / "STICK" / bk.USB_FOLDER
    stick.mkdir(parents=True)
    assert bk.usb_folder((str(media),)) == stick
    old, new, other = stick / "store-20250101-030000.db", stick / "store-20261126-030000.db", stick / "notes.db"
    for path in (old, new, other):
        path.write_text("x")
        bk.manifest_path(path).write_text("{}")
    os.utime(old, (time.time() - 20 * 86400,) * 2)
    os.utime(other, (time.time() - 20 * 86400,) * 2)
    assert bk.prune(stick, keep_days=14) == [old]
    assert not old.exists() and not bk.manifest_path(old).exists() and new.exists() and other.exists()


def cli(config, *args):
    return subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120)


def test_backup_restore_and_move_on_the_command_line(tmp_path, request):
    assert cli(tmp_path / "server.toml", "init", "--data-dir", str(tmp_path), "--demo").returncode == 0
    config = tmp_path / "server.toml"
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        shop.put(conn, "code_required", {"redeem": False, "discount": False, "return": False})
    for n in range(10):
        operations.apply_batch(engine, [sale(str(10001 + n), 30_000, redeem=0)], TILL)
    engine.dispose()

    done = cli(config, "backup", "--no-usb", "--keep-days", "30", "--json")
    assert done.returncode == 0, done.stderr
    taken = json.loads(done.stdout)
    assert taken["rows"]["sales"] == 10 and taken["ledger_sum"] == 10 * 3_000
    assert taken["file"].startswith(str(tmp_path / "backups" / "store-"))

    restored = cli(config, "restore", taken["file"])
    assert restored.returncode == 0, restored.stderr
    assert "30000" in restored.stdout and "kept at" in restored.stdout
    missing = cli(config, "restore", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and "no backup file" in missing.stderr and "Traceback" not in missing.stderr

    target = (request.getfixturevalue("pg_cluster").new_database() if pg.enabled()
              else f"sqlite:///{tmp_path / 'moved.db'}")
    moved = cli(config, "move", "--to", target)
    assert moved.returncode == 0, moved.stderr
    assert "10 operations" in moved.stdout and "summing to 30000" in moved.stdout
    again = cli(config, "move", "--to", target)
    assert again.returncode == 2 and "already holds data" in again.stderr
    # the moved shop works: new ids continue after the copied ones
    engine = make_engine(target)
    res = operations.apply_batch(engine, [sale("10001", 1_000)], TILL)[0]
    assert res["status"] == "applied", res
    engine.dispose()
