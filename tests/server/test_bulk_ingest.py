"""The bulk shortcut for batches of plain sales gives exactly what applying them one by one gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from store_server import cards, shop
from store_server.data import db
from store_server.data.db import create_schema, ledger, make_engine, receipts, sales
from store_server.data.db import operations as operation_rows
from store_server.ledger import operations
from tests.server.conftest import CASHIER


def make_shop(url):
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        shop.seed_demo(conn)
        cards.create_type(conn, "disc", "discount", 5)
        cards.issue_range(conn, 500, 502, card_type="disc")
        cards.set_state(conn, "10005", "blocked")
    return engine


def dump(engine):
    """Every row the batches wrote, column by column (not ids the database numbers, nor received_at: the
    server's clock), with the times as the database gives them back."""
    kept = [c for c in operation_rows.c if c.name != "received_at"]
    with engine.connect() as conn:
        return (sorted(map(tuple, conn.execute(select(*[c for c in ledger.c if c.name != "id"])).all())),
                sorted(map(tuple, conn.execute(select(sales)).all())),
                sorted(map(repr, conn.execute(select(*kept)).all())),
                sorted(r[0] for r in conn.execute(select(receipts.c.operation_id)).all()))


sale_ops = st.lists(st.fixed_dictionaries({
    "id": st.sampled_from([f"op-{i:05d}" for i in range(40)]),
    "card": st.sampled_from(["10001", "10002", 10003, "10005", "500", "501"]),
    "amount": st.one_of(st.integers(1, 100_000), st.sampled_from([0, -1, "12", None])),
    "minutes": st.integers(0, 60 * 24 * 7),
}), min_size=2, max_size=30)


@pytest.fixture
def engines(database_url, request, tmp_path):
    if database_url.startswith("sqlite"):
        urls = [f"sqlite:///{tmp_path / 'bulk.db'}", f"sqlite:///{tmp_path / 'one.db'}"]
    else:
        urls = [database_url, request.getfixturevalue("pg_cluster").new_database()]
    made = [make_shop(url) for url in urls]
    yield made
    for e in made:
        e.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(sale_ops, min_size=1, max_size=3))
def test_bulk_and_one_by_one_agree(engines, batches, monkeypatch):
    bulk, one = engines
    t0 = datetime(2026, 11, 23, 6, tzinfo=UTC)
    for batch in batches:
        seen = set()
        ops = []
        for spec in batch:
            if spec["id"] in seen:
                continue
            seen.add(spec["id"])
            ops.append({"id": f"{spec['id']}-{len(batches)}", "type": "sale", "cashier": "ann",
                        "at": t0 + timedelta(minutes=spec["minutes"]),
                        "payload": {"card_number": spec["card"], "amount": spec["amount"]}})
        monkeypatch.setattr(operations, "BULK", True)
        got = operations.apply_batch(bulk, ops, CASHIER)
        monkeypatch.setattr(operations, "BULK", False)
        want = operations.apply_batch(one, ops, CASHIER)
        assert got == want
    assert dump(bulk) == dump(one)


mixed_ops = st.lists(st.fixed_dictionaries({
    "id": st.sampled_from([f"mx-{i:05d}" for i in range(25)]),  # repeats: a retried id inside one batch
    "kind": st.sampled_from(["sale", "sale", "sale", "paying_sale", "redeem"]),
    "card": st.sampled_from(["10001", "10002", "10005", "500"]),
    "amount": st.one_of(st.integers(1, 50_000), st.sampled_from([0, -1])),
    "minutes": st.integers(0, 60 * 24),
}), min_size=2, max_size=40)


def mixed_op(spec: dict, t0: datetime) -> dict:
    payload = {"card_number": spec["card"], "amount": spec["amount"]}
    if spec["kind"] == "paying_sale":
        payload["bonus_payment"] = 50
        payload["allow_partial"] = True
    kind = "redeem" if spec["kind"] == "redeem" else "sale"
    if kind == "redeem":
        payload["amount"] = max(1, spec["amount"] // 100)
    return {"id": spec["id"], "type": kind, "cashier": "ann", "at": t0 + timedelta(minutes=spec["minutes"]),
            "payload": payload}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(mixed_ops, min_size=1, max_size=3))
def test_mixed_batches_agree(engines, batches, monkeypatch):
    """Sales cut into runs around redemptions and bonus-paying sales (which spend, so go the careful way):
    the same results, balances and rows as every operation applied one by one, in the batch's order."""
    bulk, one = engines
    for engine in engines:
        with engine.begin() as conn:
            shop.set_setting(conn, "no_code_limit", 1_000)
    t0 = datetime(2026, 11, 23, 6, tzinfo=UTC)
    for n, batch in enumerate(batches):
        ops = [{**op, "id": f"{op['id']}-{n % 2}"} for op in (mixed_op(spec, t0) for spec in batch)]
        monkeypatch.setattr(operations, "BULK", True)
        got = operations.apply_batch(bulk, ops, CASHIER)
        monkeypatch.setattr(operations, "BULK", False)
        want = operations.apply_batch(one, ops, CASHIER)
        assert got == want
    assert dump(bulk) == dump(one)


@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20))
def test_json_columns_are_written_as_json_dumps_writes_them(value):
    """db.json_text (the engines' JSON serializer, one encoder built once) writes what json.dumps does."""
    assert db.json_text(value) == json.dumps(value)
