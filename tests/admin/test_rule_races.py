"""A rule edited in the back office while tills book sales, on real server processes (2 on SQLite, 3 on
PostgreSQL with KIOSK_TEST_PG=1): every sale is computed wholly with one version of the rule (10 % or 20 %, never
a mixture, never nothing), and owners saving the same rule at once each get their own version, none lost and
none a 500. The edit is one transaction that locks the rule's row (rules._change), which is what keeps the
versions apart on PostgreSQL; a sale reads all rules in one SELECT of its own transaction."""

from __future__ import annotations

import re
import threading

import pytest
import requests
from sqlalchemy import select

from store_server.admin import accounts
from store_server.data.db import rule_history, rules, write_transaction
from tests.server import pg
from tests.server.conftest import pg_cluster  # noqa: F401 - the fixture, for the PostgreSQL fleet
from tests.support.races import Fleet

ROUNDS = 3
SALES, EDITS = 12, 6
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"] if pg.enabled() else ["sqlite"])
def fleet(request, tmp_path_factory):
    if request.param == "sqlite":
        fleet = Fleet(tmp_path_factory.mktemp("rule-races-sqlite"), processes=2)
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
        fleet = Fleet(tmp_path_factory.mktemp("rule-races-pg"), processes=3, database_url=url)
    with write_transaction(fleet.engine) as conn:
        accounts.create(conn, "olga", "owner", PASSWORD)
    fleet.start()
    yield fleet
    fleet.stop()


def owner_session(url: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(f"{url}/admin/login", timeout=30).text).group(1)
    r = s.post(f"{url}/admin/login", data={"name": "olga", "password": PASSWORD, "csrf": csrf,
                                           "next": "/admin/rules"}, timeout=30, allow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(f"{url}/admin/rules", timeout=30).text).group(1)
    return s, csrf


def one_round(fleet: Fleet, editors: list, rule_id: int) -> tuple[str, list, list[int]]:
    """SALES sales on one card and EDITS saves of the rule (10 % and 20 % in turn), released at once."""
    card = fleet.new_card()
    calls = [fleet.batch(i, fleet.op("sale", card_number=card, amount=10_000)) for i in range(SALES)]
    sale_answers: list = []
    edit_status: list[int] = []
    barrier = threading.Barrier(EDITS + 1)

    def edit(k: int) -> None:
        s, csrf = editors[k]
        barrier.wait(timeout=120)
        r = s.post(f"{fleet.servers[k % len(fleet.servers)].url}/admin/rules/{rule_id}", timeout=120,
                   allow_redirects=False,
                   data={"csrf": csrf, "name": "10% back", "kind": "percent", "value": "20" if k % 2 else "10",
                         "priority": "10", "combine": "on", "weekdays": list("1234567")})
        edit_status.append(r.status_code)

    def sell() -> None:
        barrier.wait(timeout=120)  # fire() then releases its own threads at one instant
        sale_answers.extend(fleet.fire(calls))

    threads = [threading.Thread(target=edit, args=(k,)) for k in range(EDITS)] + [threading.Thread(target=sell)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return card, sale_answers, edit_status


def test_sales_booked_while_the_rule_is_edited_use_one_version_each(fleet):
    with fleet.engine.connect() as conn:
        rule_id = conn.execute(select(rules.c.id).where(rules.c.name == "10% back")).scalar_one()
    editors = [owner_session(fleet.servers[i % len(fleet.servers)].url) for i in range(EDITS)]
    for _ in range(ROUNDS):
        card, sale_answers, edit_status = one_round(fleet, editors, rule_id)
        assert edit_status == [303] * EDITS, edit_status
        assert all(a.status == 200 and a.result["status"] == "applied" for a in sale_answers), sale_answers
        earned = [a.result["result"]["accrued"] for a in sale_answers]
        assert set(earned) <= {1_000, 2_000}, earned  # one version of the rule each: 10 % or 20 %
        assert fleet.balance(card) == sum(earned)
    with fleet.engine.connect() as conn:
        versions = conn.execute(select(rule_history.c.version).where(
            rule_history.c.item == "rule", rule_history.c.item_id == rule_id).order_by(rule_history.c.version)
        ).scalars().all()
        current = conn.execute(select(rules.c.version).where(rules.c.id == rule_id)).scalar_one()
    assert versions == list(range(1, 1 + 1 + ROUNDS * EDITS)) and current == versions[-1]
