"""Schema versions: which Alembic revision a database is at, bringing it to this release's, and the check every
command and the server make before touching the database.

- A new, empty database gets db.py's tables in one go and is stamped at the newest revision (the same schema the
  revisions build: tests/server/test_migrations.py compares them).
- A database at an older revision, or one an earlier release made before there were revisions, is brought up to
  date only by `store-server upgrade` (the unit runs it before `serve`); the other commands and the server refuse
  to run on it with one line saying so, rather than answering 500 on a missing column.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from ..config import ConfigError

SCRIPTS = Path(__file__).with_name("migrations")
# Two processes creating or upgrading the same PostgreSQL database at once wait for each other on this key.
PG_LOCK_KEY = 0x5C0DE15


class SchemaError(ConfigError):
    """The database's schema is not the one this release runs on; the message says what to do."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no alembic_version table (empty, or made before migrations)
    head: str
    empty: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(conn: Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


@lru_cache(maxsize=1)
def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    heads = _scripts().get_heads()
    if len(heads) != 1:  # two revisions with the same parent: someone must re-parent theirs
        raise SchemaError(f"schema revisions have {len(heads)} heads ({', '.join(heads)}); history must be linear")
    return heads[0]


def known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for ids it has never seen
        return False


def current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def state(conn: Connection) -> SchemaState:
    from .db import metadata

    rev = current(conn)
    empty = rev is None and not set(inspect(conn).get_table_names()) & set(metadata.tables)
    return SchemaState(current=rev, head=head(), empty=empty)


@contextlib.contextmanager
def _locked(engine: Engine, foreign_keys: bool = True) -> Iterator[Connection]:
    """One transaction that holds the database's write lock from its first statement."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite and not foreign_keys:
            # Batch migrations copy and drop tables others reference; the pragma only takes effect outside a
            # transaction, so it goes to the driver's connection before SQLAlchemy begins one.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
                yield conn
                if sqlite and not foreign_keys:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaError(f"upgrade left {len(broken)} row(s) pointing at nothing "
                                          f"(first: table {broken[0][0]}); nothing was changed")
        finally:
            if sqlite and not foreign_keys:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def _create(conn: Connection) -> None:
    from alembic import command

    from .db import metadata

    metadata.create_all(conn)
    command.stamp(_config(conn), "head")


def ensure_schema(engine: Engine) -> None:
    """Create the schema on an empty database; refuse (SchemaError) one at another revision."""
    with engine.connect() as conn:
        seen = state(conn)
    if seen.up_to_date:
        return
    if seen.empty:
        with _locked(engine) as conn:
            seen = state(conn)  # another process may have created it meanwhile
            if seen.empty:
                _create(conn)
                return
    if seen.up_to_date:
        return
    raise SchemaError(outdated_message(seen))


def outdated_message(seen: SchemaState) -> str:
    if seen.current is None:
        return "the database was made by an earlier release, before schema versions: run `store-server upgrade`"
    if not known(seen.current):
        return (f"the database is at schema {seen.current}, which this release does not know (newer software "
                f"wrote it?); this release runs on {seen.head}")
    return f"the database is at schema {seen.current}, this release needs {seen.head}: run `store-server upgrade`"


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Bring the database to `target` (default: this release's newest revision); returns (before, after)."""
    from alembic import command

    with _locked(engine, foreign_keys=False) as conn:
        seen = state(conn)
        if seen.current is not None and not known(seen.current):
            raise SchemaError(outdated_message(seen))
        if seen.empty and target == "head":
            _create(conn)
        else:
            command.upgrade(_config(conn), target)
        return seen.current, current(conn)
