"""Back-office money operations racing each other across two real server processes (serve --workers 2), on
SQLite and (KIOSK_TEST_PG=1) PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests

from store_server.config import ServerConfig
from tests.server import pg
from tests.server.conftest import pg_cluster  # noqa: F401 - the suite's throwaway PostgreSQL cluster
from tests.support.server import free_port, init_demo_server

from .conftest import Till, add_account, csrf_of, seed_customer, session


def _race(jobs) -> None:
    threads = [threading.Thread(target=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.fixture(params=["sqlite", "postgresql"] if pg.enabled() else ["sqlite"])
def database_url(request) -> str | None:
    return request.getfixturevalue("pg_cluster").new_database() if request.param == "postgresql" else None


def test_corrections_and_replacements_racing_on_two_processes_never_overdraw_or_replace_twice(tmp_path,
                                                                                              database_url):
    from store_server.data.db import make_engine

    if database_url:  # init keeps a server.toml it finds: the demo shop is made in this database
        (tmp_path / "server.toml").write_text(ServerConfig(
            data_dir=tmp_path, database_url=database_url, demo=True, port=free_port(),
            secret_key=uuid.uuid4().hex).to_toml(), encoding="utf-8")
    server = init_demo_server(tmp_path)
    assert add_account(server, "olga", "owner").returncode == 0
    db = make_engine(ServerConfig.load(server.config_path).database_url)
    seed_customer(db, "10060", "+380501234560", "Race")
    server.start(workers=2)
    try:
        sessions = [session(server) for _ in range(4)]
        tokens = [csrf_of(s, f"{server.url}/admin/cards/10060") for s in sessions]
        r = sessions[0].post(f"{server.url}/admin/cards/10060/adjust",
                             data={"csrf": tokens[0], "amount": "10", "reason": "start"})
        assert r.status_code == 200
        answers: list[int] = []
        lock = threading.Lock()

        def take_off(k: int) -> None:
            for _ in range(6):  # 24 corrections of -1.00 against 10.00 on the card
                r = sessions[k].post(f"{server.url}/admin/cards/10060/adjust", data={
                    "csrf": tokens[k], "amount": "-1", "reason": "race", "op_id": str(uuid.uuid4())})
                with lock:
                    answers.append(r.status_code)

        _race([lambda k=k: take_off(k) for k in range(4)])
        assert answers.count(200) == 10 and answers.count(400) == 14, answers
        till = Till(server)
        assert till.card("10060")["balance"] == 0

        sessions[0].post(f"{server.url}/admin/cards/10060/adjust",
                         data={"csrf": tokens[0], "amount": "5", "reason": "again"})
        outcomes: list[tuple[int, str]] = []

        def replace(k: int) -> None:
            r = sessions[k].post(f"{server.url}/admin/cards/10060/replace", data={
                "csrf": tokens[k], "new_number": str(10070 + k), "reason": "lost", "op_id": str(uuid.uuid4())},
                allow_redirects=False)
            with lock:
                outcomes.append((r.status_code, str(10070 + k)))

        _race([lambda k=k: replace(k) for k in range(4)])
        winners = [number for status, number in outcomes if status == 303]
        assert len(winners) == 1, outcomes
        assert till.card(winners[0])["balance"] == 500 and till.card(winners[0])["state"] == "active"
        assert till.card("10060")["state"] == "replaced" and till.card("10060")["balance"] == 0
        for _status, number in outcomes:
            if number != winners[0]:
                assert till.card(number)["state"] == "issued" and till.card(number)["balance"] == 0
        server.cli("settings", "set", "identify_code_required", "false")
        r = requests.get(f"{server.url}/api/v1/customers", params={"phone": "+380501234560"},
                         headers=till.headers, timeout=5)
        assert r.json()["number"] == winners[0]
    finally:
        server.stop()
