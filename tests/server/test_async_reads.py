"""The card look-up's own PostgreSQL connections (store_server/data/async_reads.py) against a real cluster: a read
waits at most `timeout` for a free connection, a connection the database dropped is replaced on the spot, and
they connect from the server's database_url."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from store_server.data.async_reads import APPLICATION_NAME, AsyncReads, dsn
from store_server.data.db import HotRead, make_engine
from tests.server import pg

on_pg = pytest.mark.skipif(not pg.enabled(), reason="PostgreSQL tests run with KIOSK_TEST_PG=1")

BACKEND = HotRead(text("SELECT pg_backend_pid() AS pid"))


@pytest.fixture
def engine(pg_cluster):
    engine = make_engine(pg_cluster.new_database())
    yield engine
    engine.dispose()


@on_pg
def test_a_read_waits_for_a_free_connection_at_most_the_timeout(engine):
    reads = AsyncReads(engine, size=1, timeout=0.5, recycle=1800)
    slow = HotRead(text("SELECT pg_sleep(5) AS slept"))

    async def main():
        holder = asyncio.ensure_future(reads.rows(slow, {}))
        while reads._slots is None or not reads._slots.locked():  # the only connection is the holder's
            await asyncio.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            await reads.rows(BACKEND, {})  # the holder keeps it for 5 s at least
        waited = time.monotonic() - started
        await holder
        return waited, await reads.rows(BACKEND, {})  # and once it is free, it serves again

    waited, rows = asyncio.run(main())
    assert waited > 0.4, waited  # it waited for the timeout, not failed at once
    assert rows[0]["pid"] > 0


@on_pg
def test_a_connection_the_database_dropped_is_replaced_on_the_spot(engine):
    reads = AsyncReads(engine, size=2, timeout=10, recycle=1800)

    def drop_look_up_connections() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE application_name = :name AND datname = current_database()"),
                                {"name": APPLICATION_NAME}).scalar_one()

    async def main():
        first = (await reads.rows(BACKEND, {}))[0]["pid"]
        dropped = await asyncio.to_thread(drop_look_up_connections)
        deadline = time.monotonic() + 30
        while await asyncio.to_thread(alive, engine, first):  # the backend is gone once it has exited
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        second = (await reads.rows(BACKEND, {}))[0]["pid"]  # no error: a new connection answered
        return first, dropped, second

    first, dropped, second = asyncio.run(main())
    assert dropped == 1
    assert second != first


def test_the_look_ups_connect_from_the_same_database_url():
    """asyncpg reads libpq's URL form; a libpq-only parameter (connect_timeout) would reach the server as a
    setting it refuses, so every look-up would fail over to the route: it is left to psycopg."""
    engine = create_engine("postgresql+psycopg://till:p%40ss@/shop?host=/run/postgresql&sslmode=require"
                           "&connect_timeout=5")
    assert dsn(engine) == "postgresql://till:p%40ss@/shop?host=%2Frun%2Fpostgresql&sslmode=require"


def alive(engine, pid: int) -> bool:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
        return found.scalar_one() > 0
