"""The journal's paging, filters and CSV, on a real SQLite file through the functions the page calls."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from store_server.admin.journal import Filters, csv_rows, page
from store_server.data import migrate
from store_server.data.db import make_engine, operations
from store_server.reporting.operations_csv import safe_cell


def _shop(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    return engine


def _ops(engine, rows):
    with engine.begin() as conn:
        conn.execute(insert(operations), [dict(
            id=r.get("id") or str(uuid.uuid4()), device_id=r.get("device", "till-1"), type=r.get("type", "sale"),
            at=r["at"], received_at=r["at"], cashier=r.get("cashier", "Iryna"), card_number=r.get("card", "10001"),
            payload={}, status=r.get("status", "applied"), error=None, result={}) for r in rows])


def test_keyset_pages_walk_every_operation_once_even_with_equal_times(tmp_path):
    engine = _shop(tmp_path)
    start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    # groups of three operations at the very same moment: paging must neither skip nor repeat them
    _ops(engine, [{"at": start + timedelta(minutes=i // 3)} for i in range(130)])
    seen, cursor = [], None
    with engine.connect() as conn:
        while True:
            result = page(conn, Filters(), "Europe/Kyiv", cursor, size=25)
            seen += [r["id"] for r in result["rows"]]
            cursor = result["next"]
            if cursor is None:
                break
    assert len(seen) == 130 and len(set(seen)) == 130


def test_date_filters_are_the_shops_days(tmp_path):
    engine = _shop(tmp_path)
    # 23:30 UTC on 1 March is already 2 March in Kyiv (UTC+2)
    _ops(engine, [{"at": datetime(2026, 3, 1, 21, 30, tzinfo=UTC), "id": "late-first"},
                  {"at": datetime(2026, 3, 1, 22, 30, tzinfo=UTC), "id": "early-second"}])
    with engine.connect() as conn:
        first = page(conn, Filters(since=date(2026, 3, 1), until=date(2026, 3, 1)), "Europe/Kyiv")["rows"]
        second = page(conn, Filters(since=date(2026, 3, 2), until=date(2026, 3, 2)), "Europe/Kyiv")["rows"]
    assert [r["id"] for r in first] == ["late-first"] and [r["id"] for r in second] == ["early-second"]


def test_filters_combine(tmp_path):
    engine = _shop(tmp_path)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _ops(engine, [{"at": at, "id": "a", "device": "till-1", "status": "applied"},
                  {"at": at, "id": "b", "device": "till-2", "status": "rejected", "cashier": "Petro"},
                  {"at": at, "id": "c", "device": "till-2", "status": "applied", "type": "redeem", "card": "10002"}])
    with engine.connect() as conn:
        def ids(**kw):
            return sorted(r["id"] for r in page(conn, Filters(**kw), "UTC")["rows"])
        assert ids(device="till-2") == ["b", "c"]
        assert ids(device="till-2", status="applied") == ["c"]
        assert ids(cashier="Petro") == ["b"] and ids(type="redeem") == ["c"] and ids(card="10002") == ["c"]


def test_csv_cells_cannot_become_formulas(tmp_path):
    assert safe_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert safe_cell("+1+1") == "'+1+1" and safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("\t=1") == "'\t=1"
    assert safe_cell(-150) == -150 and safe_cell("Iryna") == "Iryna"  # numbers stay numbers
    engine = _shop(tmp_path)
    _ops(engine, [{"at": datetime(2026, 3, 1, 12, tzinfo=UTC), "cashier": "=cmd|' /C calc'!A0"}])
    with engine.connect() as conn:
        text = "".join(csv_rows(conn, Filters(), "Europe/Kyiv"))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["at", "id", "type"] and rows[1][7] == "'=cmd|' /C calc'!A0"
    assert rows[1][0].startswith("2026-03-01T14:00:00+02:00")  # the shop's time

