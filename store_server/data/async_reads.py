"""Reads on PostgreSQL straight from the event loop, for the device API's hottest call (api/fast_path.py).

A card look-up on PostgreSQL is one indexed statement whose time is mostly the round trip and the driver.
Through the thread pool it also paid two thread switches, a checkout from SQLAlchemy's pool, a BEGIN and the
pool's ROLLBACK. Here each server process keeps up to `size` asyncpg connections of its own (no transaction
around a read: one round trip per statement); asyncpg prepares each statement on the server the first time a
connection runs it and keeps it (its statement cache), so the look-up is planned once per connection.

Why asyncpg beside psycopg (the server's driver everywhere else): its protocol is compiled and lives on the
event loop as a transport. psycopg's asyncio connection costs ~110 us of this process's CPU for a bare
`SELECT 1` (a reader registered and removed on the socket, a timer and a generator per statement), more than
asyncpg's ~55 us for the whole look-up; on two cores shared with PostgreSQL that was the difference between
PostgreSQL x2 and SQLite x1 (docs/server.md, "Speed"). The connection comes from the same `database_url`
(host, port, user, password, database, `sslmode`, a socket directory as `?host=`).
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout

APPLICATION_NAME = "store-server card look-ups"


# The URL parameters asyncpg reads as connection options; it would send any other one to the server as a
# setting, and the server refuses libpq's own (connect_timeout, keepalives...): those stay psycopg's.
_CONNECTION_OPTIONS = {"host", "port", "user", "password", "passfile", "dbname", "database", "service", "sslmode",
                       "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "ssl_min_protocol_version",
                       "ssl_max_protocol_version", "sslnegotiation", "target_session_attrs", "krbsrvname", "gsslib"}


def dsn(engine: Engine) -> str:
    """libpq's URL form of the engine's database_url, which asyncpg reads too (sslmode, ?host=/socket/dir)."""
    query = {name: value for name, value in engine.url.query.items() if name in _CONNECTION_OPTIONS}
    return engine.url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


class AsyncReads:
    def __init__(self, engine: Engine, size: int, timeout: float, recycle: float) -> None:
        try:
            import asyncpg  # only on PostgreSQL
        except ImportError as e:
            raise ImportError("PostgreSQL needs the server's postgres extra: pip install "
                              "'loyalty-kiosk[server,postgres]' (psycopg and asyncpg)") from e

        self._asyncpg = asyncpg
        # Errors after which a connection is no use: the database closed it (a restart, a failover) or the
        # socket broke. The read runs once more on a new connection, as db.HotRead.on_pooled does. A
        # connection whose server was terminated while it sat idle answers its next statement with
        # InternalClientError ("another operation is in progress": the FATAL it was sent is still unread).
        self._dropped = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
                         OSError, asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CannotConnectNowError)
        self.size, self.timeout, self.recycle = size, timeout, recycle
        self._dsn = dsn(engine)
        self._idle: list[tuple[object, float]] = []  # (connection, opened at)
        self._slots: asyncio.Semaphore | None = None  # made in the serving loop, on first use

    async def rows(self, read, params: dict) -> list[dict]:
        """db.HotRead `read` with `params`; PoolTimeout when every connection stays busy for `timeout`."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        if self._slots.locked():
            try:
                # asyncio.timeout, not wait_for: no task wrapped around the wait (~1.5 % of a look-up's CPU
                # at 25 look-ups in flight per process over 10 connections, py-spy)
                async with asyncio.timeout(self.timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise PoolTimeout("every look-up connection stayed busy") from None
        else:
            await self._slots.acquire()  # a free slot: taken at once, no timer
        try:
            for attempt in (1, 2):
                conn, opened = await self._checkout()
                try:
                    result = await read.rows_asyncpg(conn, params)
                except self._dropped:
                    conn.terminate()
                    if attempt == 2:
                        raise
                    continue
                except BaseException:  # cancelled mid-statement, or a statement error: state unknown
                    conn.terminate()
                    raise
                self._idle.append((conn, opened))
                return result
            raise AssertionError("unreachable")
        finally:
            self._slots.release()

    async def _checkout(self) -> tuple[object, float]:
        while self._idle:
            conn, opened = self._idle.pop()
            if not conn.is_closed() and time.monotonic() - opened < self.recycle:
                return conn, opened
            conn.terminate()  # older than pool_recycle_seconds, like the pool's own connections
        # Named in pg_stat_activity, so an operator (and the tests) can tell the look-ups' connections apart.
        conn = await self._asyncpg.connect(self._dsn, timeout=self.timeout,
                                           server_settings={"application_name": APPLICATION_NAME})
        return conn, time.monotonic()
