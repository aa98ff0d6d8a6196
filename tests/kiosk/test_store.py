"""The device's SQLite file: schema versions, durability settings, the outbox's states and the card cache."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time

import pytest

from kiosk import store as store_module
from kiosk.store import LocalStore

# The file as the first kiosk release left it: no version table, the original three tables.
V0_SCHEMA = """
CREATE TABLE [outbox] ([seq] INTEGER PRIMARY KEY, [id] TEXT, [type] TEXT, [at] TEXT, [payload] TEXT,
  [verification_token] TEXT, [cashier] TEXT, [status] TEXT, [attempts] INTEGER, [last_error] TEXT,
  [created_at] FLOAT, [done_at] FLOAT);
CREATE UNIQUE INDEX [idx_outbox_id] ON [outbox] ([id]);
CREATE INDEX [idx_outbox_status_seq] ON [outbox] ([status], [seq]);
CREATE TABLE [cards] ([number] TEXT PRIMARY KEY, [data] TEXT, [fetched_at] FLOAT);
CREATE TABLE [settings] ([key] TEXT PRIMARY KEY, [value] TEXT);
"""


def test_a_file_from_before_versioning_is_upgraded_in_place(tmp_path):
    path = tmp_path / "kiosk.db"
    old = sqlite3.connect(path)
    old.executescript(V0_SCHEMA)
    old.execute("insert into outbox (id, type, at, payload, status, attempts, created_at) values "
                "('11111111-2222-3333-4444-555555555555', 'sale', '2026-01-01T00:00:00+00:00', ?, 'pending', 0, 1)",
                [json.dumps({"card_number": "10001", "amount": 100})])
    old.execute("insert into cards values ('10001', ?, 1000)", [json.dumps({"number": "10001", "balance": 5})])
    old.commit()
    old.close()

    store = LocalStore(path)
    assert store.schema_version == len(store_module.MIGRATIONS) == 4
    assert store.pending() == [{"id": "11111111-2222-3333-4444-555555555555", "type": "sale",
                                "at": "2026-01-01T00:00:00+00:00", "payload": {"card_number": "10001", "amount": 100},
                                "verification_token": None, "cashier": None}]
    assert store.cached_card("10001") == ({"number": "10001", "balance": 5}, 1000)
    store.close()
    again = LocalStore(path)  # reopening runs nothing twice
    assert again.schema_version == 4
    assert [r["version"] for r in again.db.query("select version from schema_version")] == [1, 2, 3, 4]
    again.close()


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path, monkeypatch):
    def broken(db):
        db.execute("alter table outbox add column half_done text")
        raise RuntimeError("power cut")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, broken])
    with pytest.raises(RuntimeError):
        LocalStore(tmp_path / "kiosk.db")
    db = sqlite3.connect(tmp_path / "kiosk.db")
    assert db.execute("select max(version) from schema_version").fetchone() == (4,)
    assert "half_done" not in [r[1] for r in db.execute("pragma table_info(outbox)")]
    db.close()


def test_durability_settings_and_commit_before_return(tmp_path):
    store = LocalStore(tmp_path / "kiosk.db")
    assert store.db.execute("pragma journal_mode").fetchone() == ("wal",)
    assert store.db.execute("pragma synchronous").fetchone() == (2,)  # FULL
    op_id = store.enqueue("sale", {"card_number": "10001", "amount": 100})
    other = sqlite3.connect(tmp_path / "kiosk.db")  # another connection sees it: it is committed
    assert other.execute("select status from outbox where id = ?", [op_id]).fetchone() == ("pending",)
    other.close()
    store.close()


def test_results_move_only_pending_rows_and_unknown_answers_change_nothing(tmp_path):
    store = LocalStore(tmp_path / "kiosk.db")
    a, b, c, d = (store.enqueue("sale", {"card_number": "10001", "amount": 100}) for _ in range(4))
    store.mark_results([{"id": a, "status": "applied"}, {"id": b, "status": "duplicate"},
                        {"id": c, "status": "rejected", "error": "card_blocked", "message": "this card is blocked"},
                        {"id": d, "status": "queued-later"}])
    assert [store.operation(x)["status"] for x in (a, b, c, d)] == ["done", "done", "failed", "pending"]
    assert store.operation(c)["failure"] == "card_blocked: this card is blocked"
    # A late answer for a row the technician already requeued must not touch the new attempt.
    (new_c,) = store.retry_failed([c])
    store.mark_results([{"id": c, "status": "applied"}])
    assert store.operation(new_c)["status"] == "pending"
    assert store.retry_failed([a]) == []  # only failed rows can be retried
    assert store.pending()[0]["id"] == new_c  # keeps its place in the queue
    store.close()


def test_prune_forgets_only_old_delivered_operations(tmp_path):
    store = LocalStore(tmp_path / "kiosk.db")
    done, failed, pending = (store.enqueue("sale", {"card_number": "10001", "amount": 100}) for _ in range(3))
    store.mark_results([{"id": done, "status": "applied"}, {"id": failed, "status": "rejected", "error": "x"}])
    assert store.prune_done(older_than=3600) == 0
    assert store.prune_done(older_than=-1) == 1
    assert store.operation(done) is None
    assert store.counts() == {"pending": 1, "done": 0, "failed": 1}
    store.close()


def test_cards_to_refresh_are_the_recently_used_ones_with_an_old_or_outdated_view(tmp_path):
    store = LocalStore(tmp_path / "kiosk.db")
    store.cache_card({"number": "A", "balance": 1})  # just looked up: fresh
    store.cache_card({"number": "B", "balance": 1})
    store.enqueue("sale", {"card_number": "B", "amount": 100})  # used after the lookup: the view is behind
    store.cache_card({"number": "C", "balance": 1}, touch=False)  # only ever refreshed in the background
    store.cache_card({"number": "D", "balance": 1})
    store.db.execute("update cards set fetched_at = ?, touched_at = ? where number = 'D'",
                     [time.time() - 7200, time.time() - 7200])  # used two hours ago, view as old
    assert store.cards_to_refresh(touched_within=3600, max_age=600) == ["B"]
    assert sorted(store.cards_to_refresh(touched_within=3 * 3600, max_age=600)) == ["B", "D"]
    store.cache_card({"number": "B", "balance": 2}, touch=False)  # the background refresh
    assert store.cards_to_refresh(touched_within=3600, max_age=600) == []
    store.close()


def _open_at(path: str, at: float, results) -> None:
    time.sleep(max(0.0, at - time.time()))
    try:
        LocalStore(path).close()
        results.put("ok")
    except Exception as e:  # reported to the parent, which fails the test
        results.put(repr(e))


def test_processes_opening_a_new_file_at_once_migrate_it_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    at = time.time() + 0.3
    procs = [ctx.Process(target=_open_at, args=(str(tmp_path / "kiosk.db"), at, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    assert sorted(results.get(timeout=5) for _ in procs) == ["ok"] * 4
    store = LocalStore(tmp_path / "kiosk.db")
    assert [r["version"] for r in store.db.query("select version from schema_version")] == [1, 2, 3, 4]
    store.close()
