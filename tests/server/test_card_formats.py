"""Card formats as a shop setting (issue 18): the kiosk's CardRules, kept per shop on the server, checked where
card numbers enter (ranges, the import, look-ups) and sent to the shop's devices in /config. Through the real CLI
and a real server, on SQLite and (KIOSK_TEST_PG=1) PostgreSQL. The three formats of the issue: 16-digit legacy
cards with a Luhn check digit (the chain), Code 128 cards printed "LK10001" (shop LKS), cards printed "0000123"
(shop ZER, leading zeros kept)."""

from __future__ import annotations

import json
import subprocess

import requests

from loyalty_common.cards import luhn_ok
from tests.support.cli import run_cli

LEGACY = {"min_length": 16, "max_length": 16, "first_number": 1, "ean_lengths": [], "luhn": True,
          "sample": "4820000000000018"}
CODE128 = {"text_prefix": "LK", "first_number": 10001, "ean_lengths": [], "sample": "LK10001"}
ZEROS = {"min_length": 7, "max_length": 7, "first_number": 1, "ean_lengths": [], "sample": "0000123"}


def cli(server, *args, ok=True, stdin: str | None = None) -> subprocess.CompletedProcess:
    proc = run_cli("--config", str(server.config_path), *args, input=stdin)
    assert (proc.returncode == 0) is ok, (proc.stdout, proc.stderr)
    return proc


def get(server, key: str, path: str) -> requests.Response:
    return requests.get(f"{server.url}/api/v1{path}", headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_each_shop_reads_and_issues_its_own_card_numbers(store_server, tmp_path):
    server = store_server
    # a setting the kiosk could not read is refused with the reason, and so is a sample the rules refuse
    bad = cli(server, "settings", "set", "card_rules", '{"max_length": 16, "luhn": "yes"}', ok=False).stderr
    assert "luhn must be true or false" in bad
    bad = cli(server, "settings", "set", "card_rules", json.dumps({**LEGACY, "sample": "4820000000000011"}),
              ok=False).stderr
    assert "the sample '4820000000000011' is not a card by these rules: its check digit is wrong" in bad
    for code, name in (("LKS", "Code 128 shop"), ("ZER", "Zeros shop")):
        cli(server, "shops", "add", code, "--name", name, "--timezone", "Europe/Kyiv", "--country", "UA")
    cli(server, "settings", "set", "card_rules", json.dumps(LEGACY))
    cli(server, "settings", "set", "--shop", "LKS", "card_rules", json.dumps(CODE128))
    cli(server, "settings", "set", "--shop", "ZER", "card_rules", json.dumps(ZEROS))
    assert "card_rules" in cli(server, "settings", "list", "--shop", "LKS").stdout

    # ranges: the chain's Luhn cards get their check digit; a range that cannot be the chain's cards is refused
    # unless issued for the shop whose format it is
    cli(server, "cards", "issue", "482000000000001", "482000000000010")
    refused = cli(server, "cards", "issue", "4820000000000100", "4820000000000110", ok=False).stderr
    assert "is not a card number of this shop: the wrong number of digits (16-16 digits" in refused
    refused = cli(server, "cards", "issue", "20000001", "20000002", "--shop", "ZER", ok=False).stderr
    assert "20000001 is not a card number of this shop: the wrong number of digits (7-7 digits" in refused
    cli(server, "cards", "issue", "20001", "20010", "--shop", "LKS")
    cli(server, "cards", "issue", "1", "200", "--shop", "ZER")

    main, lks, zer = (server.enrol("entrance", shop=s)["device_key"] for s in ("main", "LKS", "ZER"))
    # each device gets its own shop's rules to read scans with
    assert get(server, main, "/config").json()["card_rules"] == LEGACY
    assert get(server, lks, "/config").json()["card_rules"] == CODE128
    assert get(server, zer, "/config").json()["card_rules"] == ZEROS

    legacy = get(server, main, "/cards/4820000000000018").json()
    assert legacy["number"] == "4820000000000018" and luhn_ok(legacy["number"]) and legacy["state"] == "issued"
    assert get(server, lks, "/cards/LK20001").json()["number"] == "20001"  # the printed Code 128 text
    assert get(server, lks, "/cards/20002").json()["number"] == "20002"
    assert get(server, zer, "/cards/0000123").json()["number"] == "0000123"  # the zeros are the number
    assert get(server, main, "/cards/10001").json()["number"] == "10001"  # a card issued before the rules

    def refusal(key: str, number: str) -> tuple[int, str, str]:
        r = get(server, key, f"/cards/{number}")
        return r.status_code, r.json()["error"], r.json().get("reason")

    assert refusal(main, "4820000000000011") == (404, "card_not_ours", "bad_check_digit")
    assert refusal(main, "4820000000000992") == (404, "card_not_found", None)  # well formed, not issued
    assert refusal(lks, "LK123") == (404, "card_not_ours", "wrong_length")
    assert refusal(lks, "5000") == (404, "card_not_ours", "wrong_length")
    assert refusal(zer, "123") == (404, "card_not_ours", "wrong_length")
    assert refusal(zer, "0000999") == (404, "card_not_found", None)

    # the import checks numbers against the chain's rules and takes them as printed
    csv = tmp_path / "legacy.csv"
    csv.write_text("phone,card_number\n+380501230001,4820000000000026\n+380501230002,LK20003\n", encoding="utf-8")
    out = cli(server, "import-customers", str(csv), "--quiet", ok=False)
    said = out.stdout + out.stderr
    assert "card LK20003 is not a card number of this shop: not a card number (card_rules: 16-16" in said
    csv.write_text("phone,card_number\n+380501230001,4820000000000026\n", encoding="utf-8")
    cli(server, "import-customers", str(csv), "--quiet")
    assert get(server, main, "/cards/4820000000000026").json()["state"] == "active"

    # without rules the server takes any number again, and devices keep their own kiosk.toml [cards]
    for args in (("--shop", "LKS"), ("--shop", "ZER"), ()):
        cli(server, "settings", "reset", *args, "card_rules")
    assert get(server, lks, "/config").json()["card_rules"] is None
    assert refusal(lks, "5000") == (404, "card_not_found", None)
