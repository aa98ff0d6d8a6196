"""The admin CLI as an operator runs it: a real `store-server` process on a real database."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.server.conftest import BACKENDS, demo_server_on
from tests.support.cli import run_cli
from tests.support.times import days_ago, iso_ago, local_day


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    return demo_server_on(request.param, tmp_path_factory.mktemp("cli"), request)


def run(server, *args, ok=True):
    proc = run_cli("--config", str(server.config_path), *args)
    assert (proc.returncode == 0) is ok, proc.stderr
    return proc


def test_cards_types_ranges_and_extra_numbers(server):
    run(server, "cards", "type", "staff", "--kind", "discount", "--discount", "15")
    assert "10000 cards issued" in run(server, "cards", "issue", "20001", "30000", "--type", "staff").stdout
    out = run(server, "cards", "issue", "1", "3", "--ean13-prefix", "2990").stdout
    assert "3 cards issued" in out
    run(server, "cards", "add-number", "10001", "OLD-1")
    err = run(server, "cards", "add-number", "10002", "OLD-1", ok=False).stderr
    assert "number_taken" in err
    run(server, "cards", "block", "10001")
    assert "card_not_found" in run(server, "cards", "block", "nope", ok=False).stderr


def test_rules_and_tiers(server):
    run(server, "rules", "add", "--name", "morning", "--percent", "20", "--priority", "0", "--no-combine",
        "--from", "9:00", "--to", "11:00")
    listing = run(server, "rules", "list").stdout
    assert "p0\t20%\talone 09:00-11:00\tmorning" in listing and "10%" in listing
    assert "bad_time" in run(server, "rules", "add", "--name", "x", "--percent", "5", "--from", "25:00",
                             "--to", "26:00", ok=False).stderr
    run(server, "tiers", "add", "--name", "gold", "--min-turnover", "1000000", "--percent", "5")
    assert "gold\tfrom 1000000\t+5%" in run(server, "tiers", "list").stdout


def test_settings(server):
    run(server, "settings", "set", "return_shortfall", '"refuse"')  # JSON still works
    assert "return_shortfall = refuse  (default: reduce_refund)" in run(server, "settings", "show").stdout
    run(server, "settings", "set", "public_name", "My", "Shop")  # plain words, no JSON quoting
    run(server, "settings", "set", "languages", "uk,en")
    run(server, "settings", "set", "no_code_limit", "500")
    listing = json.loads(run(server, "settings", "list", "--json").stdout)
    values = {r["key"]: r["value"] for r in listing}
    assert values["public_name"] == "My Shop" and values["languages"] == ["uk", "en"]
    assert values["no_code_limit"] == 500
    assert {r["group"] for r in listing} <= {"shop", "bonuses", "codes", "sms", "privacy", "devices"}
    assert all(r["type"] and r["description"] for r in listing)
    for key, value, reason in (
            ("colour", "1", "no setting 'colour'"),
            ("timezone", "Mars/Base", "not a time zone name"),
            ("languages", '"uk"', "Input should be 'uk', 'en'"),
            ("languages", "uk,de", "Input should be 'uk', 'en', 'ru', 'kk' or 'vi'"),
            ("code_required", "5", "valid dictionary"),
            ("no_code_limit", '"abc"', "valid integer"),
            ("no_code_limit", "-1", "greater than or equal to 0"),
            ("questionnaire", '[{"key": "pet", "type": "choice"}]', "a choice field needs a list of choices")):
        refused = run(server, "settings", "set", key, value, ok=False)
        assert refused.returncode == 1 and reason in refused.stderr, (key, value, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert values == {r["key"]: r["value"] for r in json.loads(run(server, "settings", "list", "--json").stdout)}
    run(server, "settings", "set", "questionnaire", '[{"key": "pet", "type": "choice", "choices": ["cat", "dog"]}]')
    for key in ("public_name", "languages", "no_code_limit", "return_shortfall"):
        run(server, "settings", "reset", key)
    assert "public_name = Demo Shop  (default)" in run(server, "settings", "list", "--group", "shop").stdout


def write_csv(path, rows):
    path.write_text("phone,card_number,name,extra_numbers,marketing,pet\n"
                    + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_import_reports_errors_by_line_and_imports_nothing(server, tmp_path):
    run(server, "settings", "set", "questionnaire", '[{"key": "pet", "type": "choice", "choices": ["cat", "dog"]}]')
    bad = write_csv(tmp_path / "bad.csv", [
        ["+380501000001", "10010", "Ann", "", "yes", "cat"],
        ["12", "10011", "Bob", "", "no", ""],  # line 3: phone
        ["+380501000001", "10012", "Cy", "", "no", ""],  # line 4: same phone as line 2
        ["+380501000004", "99999", "Di", "", "maybe", "fish"],  # line 5: card, marketing, answer
    ])
    err = run(server, "import-customers", bad, ok=False).stderr
    assert f"{bad}:3: phone '12'" in err
    assert f"{bad}:4: phone +380501000001 also on line 2" in err
    assert f"{bad}:5: card 99999 does not exist" in err and f"{bad}:5: marketing must be yes or no" in err
    assert f"{bad}:5: pet: one of cat, dog" in err
    assert "nothing imported" in err
    # line 2 was fine, but nothing of the file may be in the database
    good = write_csv(tmp_path / "good.csv", [["+380501000001", "10010", "Ann", "OLD-A;OLD-B", "yes", "cat"]])
    assert "1 customers imported" in run(server, "import-customers", good, "--quiet").stdout


def test_import_shows_a_progress_bar_on_long_files(server, tmp_path):
    rows = [[f"+38050200{i:04d}", str(20001 + i), "", "", "", ""] for i in range(3000)]
    run(server, "cards", "issue", "20001", "23000")
    proc = run(server, "import-customers", write_csv(tmp_path / "long.csv", rows))
    assert "3000 customers imported" in proc.stdout
    assert "importing [" in proc.stderr and "100% 3000/3000" in proc.stderr


def test_reports_csv(server, tmp_path):
    sold_at = iso_ago(days=6)
    server.start()
    try:
        cashier = server.enrol("cashier", name="till 1")
        import requests
        ops = [{"id": f"rep-op-{i:04d}", "type": "sale", "at": sold_at, "cashier": "olga",
                "payload": {"card_number": "10002", "amount": 1000}} for i in range(3)]
        r = requests.post(f"{server.url}/api/v1/operations:batch", json={"operations": ops},
                          headers={"Authorization": f"Bearer {cashier['device_key']}"}, timeout=10)
        assert [x["status"] for x in r.json()["results"]] == ["applied"] * 3
    finally:
        server.stop()
    out = tmp_path / "by-cashier.csv"
    run(server, "report", "--by", "cashier", "--out", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {"cashier": "olga", "type": "sale", "status": "applied", "count": "3"} in rows
    by_day = list(csv.DictReader(io.StringIO(run(server, "report", "--by", "day").stdout)))
    # the demo shop files its days in its own zone (the default, Europe/Kyiv): between 22:00 and 24:00 UTC that is
    # already the next day
    assert {"day": local_day(sold_at, "Europe/Kyiv"), "type": "sale", "status": "applied", "count": "3"} in by_day
    by_device = run(server, "report", "--by", "device", "--since", days_ago(20).isoformat()).stdout
    assert "till 1,sale,applied,3" in by_device
    audit = run(server, "audit", "10002")
    lines = audit.stdout.splitlines()
    assert lines[0] == "at,received_at,id,type,status,error,device,cashier,ledger"
    assert sum(",rep-op-" in line and ",sale,applied,,till 1,olga,accrual +100" in line for line in lines) == 3
    assert "# balance 300" in audit.stderr
