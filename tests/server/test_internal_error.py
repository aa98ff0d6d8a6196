"""One operation the server cannot apply (an unforeseen error) is refused on its own; its batch goes on."""

from __future__ import annotations

import logging
import math
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from store_server.data.db import operations as operations_table
from store_server.ledger import operations
from tests.server.conftest import CASHIER


def sale(shop_db, **extra) -> dict:
    op = {"id": str(uuid.uuid4()), "type": "sale", "at": shop_db.at, "verification_token": None,
          "payload": {"card_number": "10001", "amount": 1_000}}
    op.update(extra)
    return op


def test_a_poisoned_operation_is_rejected_alone_logged_with_its_id_and_the_rest_applied(shop_db, caplog):
    good = [sale(shop_db) for _ in range(3)]
    poisoned = [
        # A date the shop's time zone cannot convert (rules read the local time): OverflowError.
        sale(shop_db, at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),
        # NaN is not JSON PostgreSQL stores; SQLite stores it. Either way no 500 for the batch.
        sale(shop_db, payload={"card_number": "10001", "amount": 1_000, "note": math.nan}),
        # PostgreSQL text cannot hold NUL.
        sale(shop_db, cashier="Ann\x00"),
    ]
    batch = [good[0], poisoned[0], good[1], poisoned[1], poisoned[2], good[2]]
    with caplog.at_level(logging.ERROR, logger="store_server.ledger.operations"):
        results = operations.apply_batch(shop_db.engine, batch, CASHIER)
    by_id = {r["id"]: r for r in results}
    assert all(by_id[op["id"]]["status"] == "applied" for op in good)
    assert by_id[poisoned[0]["id"]]["error"] == "internal_error"
    for op in poisoned[1:]:
        assert by_id[op["id"]]["status"] == "applied" or by_id[op["id"]]["error"] == "internal_error"
    assert shop_db.balance("10001") == 100 * sum(by_id[op["id"]]["status"] == "applied" for op in batch)
    failed = [op["id"] for op in poisoned if by_id[op["id"]]["status"] == "rejected"]
    for op_id in failed:  # the technician finds it in the log: its id and a traceback
        record = next(r for r in caplog.records if op_id in r.getMessage())
        assert record.exc_info is not None

    # The refusal is recorded: the same batch again gets the same answers, nothing applied twice.
    again = {r["id"]: r for r in operations.apply_batch(shop_db.engine, batch, CASHIER)}
    assert {op_id: again[op_id]["status"] for op_id in failed} == dict.fromkeys(failed, "rejected")
    assert all(again[op["id"]]["status"] == "duplicate" for op in good)
    with shop_db.engine.connect() as conn:
        row = conn.execute(select(operations_table.c.status, operations_table.c.error)
                           .where(operations_table.c.id == poisoned[0]["id"])).one()
    assert tuple(row) == ("rejected", "internal_error")


def test_an_unforeseen_bug_in_an_applier_is_contained(shop_db, monkeypatch, caplog):
    def broken(ctx):
        raise RuntimeError("a bug")

    monkeypatch.setitem(operations.APPLIERS, "redeem", broken)
    ops = [sale(shop_db), {"id": str(uuid.uuid4()), "type": "redeem", "at": shop_db.at,
                           "payload": {"card_number": "10001", "amount": 10}}, sale(shop_db)]
    with caplog.at_level(logging.ERROR, logger="store_server.ledger.operations"):
        results = operations.apply_batch(shop_db.engine, ops, CASHIER)
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["error"] == "internal_error" and "RuntimeError: a bug" in caplog.text
    assert shop_db.balance("10001") == 200
