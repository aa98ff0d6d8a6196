"""The ledger's promises under races against real server processes (docs/server.md, "Concurrency").

Three `store-server serve` processes on one PostgreSQL database (with KIOSK_TEST_PG=1) and two on one
SQLite file; every race fires its requests from 10-20 threads at one instant, several rounds in a row
(tests/support/races.py). Asserted: no 5xx and no broken invariant, whatever the timing.
"""

from __future__ import annotations

import os

import pytest

from tests.server import pg
from tests.support.races import RACES, Fleet, mixed_load, run_race

ROUNDS = int(os.environ.get("KIOSK_RACE_ROUNDS", "3"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"] if pg.enabled() else ["sqlite"])
def fleet(request, tmp_path_factory):
    if request.param == "sqlite":
        fleet = Fleet(tmp_path_factory.mktemp("races-sqlite"), processes=2)
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
        fleet = Fleet(tmp_path_factory.mktemp("races-pg"), processes=3, database_url=url)
    fleet.start()
    yield fleet
    fleet.stop()


@pytest.mark.parametrize("race", list(RACES))
def test_race(fleet, race):
    outcome = run_race(fleet, race, ROUNDS)
    assert outcome.server_errors == 0 and outcome.broken == 0, (
        f"{fleet.backend} x{len(fleet.servers)}: {outcome.broken}/{outcome.rounds} rounds broken, "
        f"{outcome.server_errors}/{outcome.requests} server errors: {outcome.notes}")


# The issue asks for 30 s; the suite runs 15 s to stay quick (KIOSK_MIXED_LOAD_SECONDS=30 for the full
# length), and benchmarks/contention.py runs 30 s by default.
MIXED_SECONDS = float(os.environ.get("KIOSK_MIXED_LOAD_SECONDS", "15"))


def test_mixed_load_on_one_sqlite_process_answers_no_5xx(tmp_path):
    """Tills posting sales and looking cards up while customers ask for codes, type them in and register:
    every request answered, none with a 5xx ("database is locked" used to be one)."""
    fleet = Fleet(tmp_path, processes=1).start()
    try:
        load = mixed_load(fleet, MIXED_SECONDS)
    finally:
        fleet.stop()
    assert load.server_errors == 0, load.errors[:5]
    assert not load.broken, load.broken
    assert load.by_kind.get("register", 0) >= 3 and load.by_kind.get("sale", 0) >= 10, load.by_kind
