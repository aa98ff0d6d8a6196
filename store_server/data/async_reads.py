"""Reads on PostgreSQL straight from the event loop, for the device API's hottest call (api/fast_path.py).

A card look-up on PostgreSQL is one indexed statement whose time is mostly the round trip. Through the thread
pool it also paid two thread switches, a checkout from SQLAlchemy's pool (whose overflow connections are
closed on return and opened again in the next burst: a backend process started each time), a BEGIN and the
pool's ROLLBACK: three round trips for one. Here each server process keeps up to `size` psycopg
AsyncConnections of its own in autocommit (one round trip per statement); psycopg prepares a statement on
the server after its fifth run on a connection (prepare_threshold), so the look-up is planned once per
connection. psycopg is already the PostgreSQL driver: nothing new to install.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout


class AsyncReads:
    def __init__(self, engine: Engine, size: int, timeout: float, recycle: float) -> None:
        import psycopg  # only on PostgreSQL

        self._psycopg = psycopg
        self.dialect, self.size, self.timeout, self.recycle = engine.dialect, size, timeout, recycle
        self._connect_args = engine.dialect.create_connect_args(engine.url)[1]
        self._idle: list[tuple[object, float]] = []  # (connection, opened at)
        self._slots: asyncio.Semaphore | None = None  # made in the serving loop, on first use

    async def rows(self, read, params: dict) -> list[dict]:
        """db.HotRead `read` with `params`; PoolTimeout when every connection stays busy for `timeout`."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout)
        except TimeoutError:
            raise PoolTimeout("every look-up connection stayed busy") from None
        try:
            # A connection the database dropped (a restart, a failover) fails on its first statement: thrown
            # away, and the read runs once more on a new one, as db.HotRead.on_pooled does.
            for attempt in (1, 2):
                conn, opened = await self._checkout()
                try:
                    result = await read.rows_async(conn, self.dialect, params)
                except self._psycopg.OperationalError:
                    await conn.close()
                    if attempt == 2:
                        raise
                    continue
                except BaseException:  # cancelled mid-statement, or a statement error: state unknown
                    await conn.close()
                    raise
                self._idle.append((conn, opened))
                return result
            raise AssertionError("unreachable")
        finally:
            self._slots.release()

    async def _checkout(self) -> tuple[object, float]:
        while self._idle:
            conn, opened = self._idle.pop()
            if not conn.closed and time.monotonic() - opened < self.recycle:
                return conn, opened
            await conn.close()  # older than pool_recycle_seconds, like the pool's own connections
        conn = await self._psycopg.AsyncConnection.connect(**self._connect_args, autocommit=True)
        return conn, time.monotonic()
