"""An admin command that reads and then writes while the server writes the same SQLite file.

A deferred transaction (`engine.begin()`) reads from a snapshot; if another connection commits before it writes,
SQLite refuses the write at once with "database is locked" (SQLITE_BUSY_SNAPSHOT; the busy timeout does not
help). The suite saw `store-server settings set` fail so while a test's device synced. Admin commands now take
the write lock first (BEGIN IMMEDIATE), so the other writer waits instead. This test places the other writer's
commit exactly between the command's read and its write."""

from __future__ import annotations

import argparse
import threading

from sqlalchemy import select

from store_server import admin_cli, shop
from store_server.config import ServerConfig
from store_server.data.db import create_schema, make_engine, settings, write_transaction


def test_a_command_that_reads_then_writes_is_not_refused_when_the_server_commits_in_between(tmp_path):
    config = ServerConfig(data_dir=tmp_path, demo=True)
    (tmp_path / "server.toml").write_text(config.to_toml(), encoding="utf-8")
    server = make_engine(config.database_url)  # stands for the running server: another connection, same file
    create_schema(server)
    with server.begin() as conn:
        shop.put(conn, "public_name", "Before")

    def server_writes() -> None:
        with write_transaction(server) as conn:  # as the server writes
            shop.put(conn, "timezone", "Europe/Warsaw")

    other = threading.Thread(target=server_writes)

    def command(conn) -> None:
        conn.execute(select(settings.c.value).where(settings.c.key == "public_name")).first()  # the read
        other.start()
        other.join(timeout=1.0)  # the server commits now, unless this command already holds the write lock
        shop.set_setting(conn, "public_name", "After")  # the write

    assert admin_cli._run(argparse.Namespace(config=tmp_path / "server.toml"), command) == 0
    other.join(timeout=30)
    assert not other.is_alive()
    with server.connect() as conn:
        assert shop.get(conn, "public_name") == "After"
        assert shop.get(conn, "timezone") == "Europe/Warsaw"  # the server's write waited, and then landed too
