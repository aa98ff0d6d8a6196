"""A range of printed cards issued for one shop (issue 19): `cards issue --shop` records the shop on the range, and
the printer's file prints that shop's card format (its Code 128 text prefix, zero padding); a range without a shop
is the chain's and prints the chain's. Real CLI and server database, on SQLite and (KIOSK_TEST_PG=1) PostgreSQL."""

from __future__ import annotations

import json
import tomllib

from sqlalchemy import select

from store_server import cards
from store_server.data.db import card_ranges, make_engine
from tests.support.cli import run_cli

CODE128 = {"text_prefix": "LK", "first_number": 10001, "ean_lengths": [], "sample": "LK10001"}  # test_card_formats


def cli(server, *args) -> str:
    return run_cli("--config", str(server.config_path), *args, check=True).stdout


def test_a_range_issued_for_a_shop_prints_in_that_shops_format(store_server):
    server = store_server
    cli(server, "shops", "add", "LKS", "--name", "Code 128 shop", "--timezone", "Europe/Kyiv", "--country", "UA")
    cli(server, "settings", "set", "--shop", "LKS", "card_rules", json.dumps(CODE128))
    cli(server, "cards", "issue", "30001", "30003", "--shop", "LKS")
    cli(server, "cards", "issue", "30004", "30005")  # the chain's

    url = tomllib.loads(server.config_path.read_text(encoding="utf-8"))["database_url"]
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            ranges = {r["first"]: r for r in conn.execute(select(card_ranges)).mappings()}
            assert ranges[30001]["shop"] == "LKS" and ranges[30004]["shop"] is None
            shop_rows = cards.printer_rows(conn, ranges[30001]["id"])
            chain_rows = cards.printer_rows(conn, ranges[30004]["id"])
            listed = {r["id"]: r["shop"] for r in cards.ranges_with_counts(conn)}
    finally:
        engine.dispose()
    assert [(n, barcode) for n, barcode, _, _ in shop_rows] == [
        ("30001", "LK30001"), ("30002", "LK30002"), ("30003", "LK30003")]
    assert [barcode for _, barcode, _, _ in chain_rows] == ["30004", "30005"]  # the chain has no card_rules
    assert listed[ranges[30001]["id"]] == "LKS" and listed[ranges[30004]["id"]] is None
