"""Server tests work on a real SQLite file through the same functions the API calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from store_server import cards, shop
from store_server.config import ServerConfig
from store_server.data.db import create_schema, make_engine
from store_server.ledger import operations
from tests.server import pg
from tests.support.server import ServerProcess, free_port, init_demo_server

CASHIER = {"id": "till-1", "role": "cashier"}
ENTRANCE = {"id": "kiosk-1", "role": "entrance"}


class Shop:
    """A shop database with a clock the tests set per operation."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def put(self, key, value) -> None:
        with self.engine.begin() as conn:
            shop.put(conn, key, value)

    def op(self, type_: str, device: dict = CASHIER, token: str | None = None, at: datetime | None = None,
           op_id: str | None = None, cashier: str | None = None, **payload) -> dict:
        op = {"id": op_id or str(uuid.uuid4()), "type": type_, "at": at or self.at, "payload": payload,
              "verification_token": token, "cashier": cashier}
        return operations.apply_batch(self.engine, [op], device)[0]

    def ok(self, type_: str, **kw) -> dict:
        res = self.op(type_, **kw)
        assert res["status"] == "applied", res
        return res

    def balance(self, number: str) -> int:
        with self.engine.connect() as conn:
            return cards.get_card(conn, number)["balance"]


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = pg.Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"] if pg.enabled() else ["sqlite"])
def database_url(request, tmp_path) -> str:
    """SQLite always; with KIOSK_TEST_PG=1 the same test again on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_cluster").new_database()


BACKENDS = ["sqlite", "postgresql"] if pg.enabled() else ["sqlite"]


def demo_server_on(backend: str, data_dir, request) -> ServerProcess:
    """`store-server init --demo` in `data_dir`, on SQLite or on a fresh database of the session's PostgreSQL
    cluster (init then creates the schema there, as an operator's init with database_url does)."""
    if backend == "postgresql":
        data_dir.mkdir(parents=True, exist_ok=True)
        url = request.getfixturevalue("pg_cluster").new_database()
        (data_dir / "server.toml").write_text(ServerConfig(
            data_dir=data_dir, database_url=url, demo=True, port=free_port(), secret_key=uuid.uuid4().hex,
        ).to_toml(), encoding="utf-8")
    return init_demo_server(data_dir)


@pytest.fixture(scope="module", params=BACKENDS)
def store_server(request, tmp_path_factory):
    """The API tests' real server process (tests/conftest.py), here on each backend in turn."""
    server = demo_server_on(request.param, tmp_path_factory.mktemp("server"), request).start()
    yield server
    server.stop()


@pytest.fixture
def shop_db(database_url) -> Shop:
    engine = make_engine(database_url)
    create_schema(engine)
    with engine.begin() as conn:
        shop.seed_demo(conn)
        # SMS verification is its own subject (tests/server/test_api.py); the ledger tests go without.
        shop.put(conn, "code_required", {"redeem": False, "discount": False, "return": False})
    yield Shop(engine)
    engine.dispose()
