"""Customer CSV files as spreadsheets save them: UTF-8 with or without BOM, Windows-1251, UTF-16; , ; or tab."""

from __future__ import annotations

import codecs
import subprocess
import sys

import pytest

from store_server import csv_input
from tests.support.server import init_demo_server

ROWS = [["phone", "card_number", "name"], ["+380501000101", "10050", "Олена Коваль"],
        ["+380501000102", "10051", "Сергій Іваненко"]]


def table(delimiter: str) -> str:
    return "".join(delimiter.join(r) + "\r\n" for r in ROWS)


@pytest.mark.parametrize("encoding, prefix, delimiter, described", [
    ("utf-8", b"", ",", "UTF-8, columns separated by comma"),
    ("utf-8", codecs.BOM_UTF8, ";", "UTF-8 with BOM, columns separated by semicolon"),
    ("cp1251", b"", ";", "Windows-1251, columns separated by semicolon"),
    ("utf-16", b"", "\t", "UTF-16, columns separated by tab"),
])
def test_encoding_and_delimiter_are_found(encoding, prefix, delimiter, described):
    source = csv_input.read(prefix + table(delimiter).encode(encoding))
    assert source.describe() == described
    rows = list(csv_input.rows(source))
    assert [r["name"] for r in rows] == ["Олена Коваль", "Сергій Іваненко"]


def test_binary_is_refused():
    with pytest.raises(csv_input.CsvInputError, match="not text"):
        csv_input.read(bytes(range(256)) * 4)


def run(server, *args):
    return subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(server.config_path), *args],
                          capture_output=True, text=True, timeout=120)


def test_import_of_an_excel_windows_1251_semicolon_file(tmp_path):
    server = init_demo_server(tmp_path / "shop")
    path = tmp_path / "excel.csv"
    path.write_bytes(table(";").encode("cp1251"))
    done = run(server, "import-customers", str(path), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "reading" in done.stderr and "Windows-1251, columns separated by semicolon" in done.stderr
    assert "2 customers imported" in done.stdout
    card = run(server, "audit", "10050")
    assert card.returncode == 0
    missing = run(server, "import-customers", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("telefon;karta\n+380501000103;10052\n", encoding="utf-8")
    refused = run(server, "import-customers", str(wrong))
    assert refused.returncode == 1 and "found: telefon, karta" in refused.stderr
