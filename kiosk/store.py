"""The device's own SQLite: card cache, settings and the outbox, the durable queue of operations.

An operation exists once its outbox row is committed; its id is created in that same transaction and
never regenerated, so every retry of the sync is safe.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

PENDING, DONE, FAILED = "pending", "done", "failed"


class LocalStore:
    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Shared by the UI and sync threads, always under self._lock.
        self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: with WAL and NORMAL the last commits can vanish on a power cut; the outbox is the only
        # record of an operation until the server has it.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=5000")
        # The UI thread enqueues while the sync thread marks results: one connection, one lock.
        self._lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        with self._lock, self.db.atomic():
            if "outbox" not in self.db.table_names():
                self.db["outbox"].create({
                    "seq": int, "id": str, "type": str, "at": str, "payload": str,
                    "verification_token": str, "cashier": str, "status": str, "attempts": int,
                    "last_error": str, "created_at": float, "done_at": float,
                }, pk="seq")
                self.db["outbox"].create_index(["id"], unique=True)
                self.db["outbox"].create_index(["status", "seq"])
            if "cards" not in self.db.table_names():
                self.db["cards"].create({"number": str, "data": str, "fetched_at": float}, pk="number")
            if "settings" not in self.db.table_names():
                self.db["settings"].create({"key": str, "value": str}, pk="key")

    # settings -----------------------------------------------------------------------------------
    def get_setting(self, key: str, default=None):
        with self._lock:
            rows = list(self.db.query("select value from settings where key = ?", [key]))
        return json.loads(rows[0]["value"]) if rows else default

    def set_setting(self, key: str, value) -> None:
        with self._lock, self.db.atomic():
            self.db["settings"].upsert({"key": key, "value": json.dumps(value)}, pk="key")

    # card cache ---------------------------------------------------------------------------------
    def cache_card(self, card: dict) -> None:
        with self._lock, self.db.atomic():
            self.db["cards"].upsert({"number": card["number"], "data": json.dumps(card),
                                     "fetched_at": time.time()}, pk="number")

    def cached_card(self, number: str) -> tuple[dict, float] | None:
        with self._lock:
            rows = list(self.db.query("select data, fetched_at from cards where number = ?", [number]))
        return (json.loads(rows[0]["data"]), rows[0]["fetched_at"]) if rows else None

    # outbox -------------------------------------------------------------------------------------
    def enqueue(self, type_: str, payload: dict, *, verification_token: str | None = None,
                cashier: str | None = None) -> str:
        """Durably queues an operation and returns its id; returns only after the commit."""
        op_id = str(uuid.uuid4())
        with self._lock, self.db.atomic():
            self.db["outbox"].insert({
                "id": op_id, "type": type_, "at": datetime.now(UTC).isoformat(),
                "payload": json.dumps(payload), "verification_token": verification_token, "cashier": cashier,
                "status": PENDING, "attempts": 0, "created_at": time.time(),
            })
        return op_id

    def pending(self, limit: int = 500) -> list[dict]:
        with self._lock:
            rows = list(self.db.query(
                "select * from outbox where status = ? order by seq limit ?", [PENDING, limit]))
        return [{
            "id": r["id"], "type": r["type"], "at": r["at"], "payload": json.loads(r["payload"]),
            "verification_token": r["verification_token"], "cashier": r["cashier"],
        } for r in rows]

    def mark_results(self, results: list[dict]) -> None:
        """applied / duplicate: done. rejected: failed, kept with the server's reason for the technician."""
        now = time.time()
        with self._lock, self.db.atomic():
            for r in results:
                if r.get("status") in ("applied", "duplicate"):
                    self.db.execute("update outbox set status = ?, done_at = ?, last_error = null "
                                    "where id = ?", [DONE, now, r["id"]])
                elif r.get("status") == "rejected":
                    self.db.execute("update outbox set status = ?, last_error = ? where id = ?",
                                    [FAILED, f"{r.get('error')}: {r.get('message', '')}", r["id"]])

    def note_attempt(self, ids: list[str], error: str | None) -> None:
        with self._lock, self.db.atomic():
            for op_id in ids:
                self.db.execute("update outbox set attempts = attempts + 1, last_error = ? where id = ?",
                                [error, op_id])

    def operation(self, op_id: str) -> dict | None:
        with self._lock:
            rows = list(self.db.query("select * from outbox where id = ?", [op_id]))
        return rows[0] if rows else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self.db.query("select status, count(*) as n from outbox group by status")
            counts = {r["status"]: r["n"] for r in rows}
        return {s: counts.get(s, 0) for s in (PENDING, DONE, FAILED)}

    def close(self) -> None:
        self.db.close()
