"""Backups, restores and moving a shop to PostgreSQL, each checked before it is trusted.

- SQLite: the online backup API copies a consistent snapshot while the server keeps writing (WAL); the copy is
  one self-contained file (journal_mode DELETE).
- PostgreSQL: pg_dump -Fc inside an exported snapshot, so the ledger summary written beside it describes exactly
  the rows in the dump; pg_restore puts it back.

Every backup gets a manifest beside it (FILE.json): schema revision, row counts and the ledger's sums, and the
file's SHA-256. Restore refuses a file whose digest, integrity check or ledger sums do not match, keeps a copy of
what it replaces, and brings the restored database to this release's schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine, make_url

from ..config import ConfigError, ServerConfig

# A folder with this name on a mounted USB stick (or any mounted drive) receives the nightly backups.
USB_FOLDER = "store-backups"
MOUNT_ROOTS = ("/media", "/mnt", "/run/media")
PATTERNS = ("store-*.db", "store-*.pgdump")


class BackupError(ConfigError):
    """A backup or restore cannot go on; the message says why (exit code 2 on the command line)."""


# --- what a database holds, to compare two of them ---------------------------------------------------------------


def summary(conn: Connection) -> dict:
    """Row counts of the tables that carry money and the ledger's sums: equal summaries, same ledger."""
    from .db import cards, customers, ledger, operations, sales
    from .migrate import current

    counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
              for t in (customers, cards, operations, sales, ledger)}
    by_kind = dict(conn.execute(select(ledger.c.kind, func.coalesce(func.sum(ledger.c.amount), 0))
                                .group_by(ledger.c.kind)).all())
    return {"schema": current(conn), "rows": counts,
            "ledger_sum": int(conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0))).scalar_one()),
            "ledger_by_kind": {k: int(v) for k, v in sorted(by_kind.items())}}


def ledger_problems(conn: Connection) -> list[str]:
    """Invariants a sound copy keeps: no negative balance, each sale's own ledger rows match what it says."""
    from .db import ledger, sales

    problems = []
    negative = conn.execute(select(ledger.c.card_number).group_by(ledger.c.card_number)
                            .having(func.sum(ledger.c.amount) < 0).limit(3)).scalars().all()
    if negative:
        problems.append(f"negative balance on card(s) {', '.join(negative)}")
    moved = (select(ledger.c.operation_id, func.sum(ledger.c.amount).label("moved"))
             .group_by(ledger.c.operation_id).subquery())
    torn = conn.execute(select(sales.c.operation_id)
                        .select_from(sales.outerjoin(moved, moved.c.operation_id == sales.c.operation_id))
                        .where(func.coalesce(moved.c.moved, 0) != sales.c.accrued - sales.c.redeemed)
                        .limit(3)).scalars().all()
    if torn:
        problems.append(f"sale(s) {', '.join(torn)} without their ledger rows")
    return problems


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


@dataclass
class Result:
    path: Path
    manifest: dict


# --- where backups go ---------------------------------------------------------------------------------------------


def usb_folder(roots: tuple[str, ...] = MOUNT_ROOTS) -> Path | None:
    """A `store-backups` folder at the top of a mounted drive (/media/USER/STICK, /mnt/STICK), if there is one."""
    for root in roots:
        for candidate in sorted(Path(root).glob(f"*/{USB_FOLDER}")) + sorted(Path(root).glob(f"*/*/{USB_FOLDER}")):
            if candidate.is_dir() and os.access(candidate, os.W_OK):
                return candidate
    return None


def default_folder(config: ServerConfig, usb: bool = True) -> Path:
    return (usb_folder() if usb else None) or config.data_dir / "backups"


def prune(folder: Path, keep_days: float, now: float | None = None) -> list[Path]:
    """Deletes this tool's backups (and manifests) older than keep_days; never anything else in the folder."""
    cutoff = (now or time.time()) - keep_days * 86400
    gone = []
    for pattern in PATTERNS:
        for path in folder.glob(pattern):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                manifest_path(path).unlink(missing_ok=True)
                gone.append(path)
    return gone


# --- backup -------------------------------------------------------------------------------------------------------


def _sqlite_file(config: ServerConfig) -> Path:
    url = make_url(config.database_url)
    if not url.database or url.database == ":memory:":
        raise BackupError(f"database_url {config.database_url} names no file")
    return Path(url.database)


def _libpq_url(config: ServerConfig) -> str:
    return make_url(config.database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    from glob import glob

    found = shutil.which(name) or (sorted(glob(f"/usr/lib/postgresql/*/bin/{name}")) or [None])[-1]
    if not found:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def backup(config: ServerConfig, engine: Engine, dest: Path) -> Result:
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        if engine.dialect.name == "sqlite":
            info = _backup_sqlite(_sqlite_file(config), partial)
        else:
            info = _backup_postgresql(config, engine, partial)
        info.update(file=dest.name, sha256=sha256(partial), bytes=partial.stat().st_size,
                    backend=engine.dialect.name, taken_at=datetime.now(UTC).isoformat(timespec="seconds"))
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    manifest_path(dest).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return Result(dest, info)


def _plain(path: Path, read_only: bool = False) -> Engine:
    """An engine on a copy without the server's pragmas (they would turn the one-file copy back to WAL)."""
    from sqlalchemy import create_engine

    return create_engine(f"sqlite:///file:{path}?{'mode=ro&' if read_only else ''}uri=true")


def _backup_sqlite(source: Path, partial: Path) -> dict:
    if not source.exists():
        raise BackupError(f"no database at {source}")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)  # one step: a snapshot of one moment, while the server goes on writing
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        src.close()
        dst.close()
    copy = _plain(partial)
    try:
        with copy.connect() as conn:
            _check_sqlite(conn, partial)
            info = summary(conn)
            problems = ledger_problems(conn)
    finally:
        copy.dispose()
    if problems:
        raise BackupError(f"the copy fails the ledger checks ({'; '.join(problems)}); the database itself "
                          f"may be damaged")
    return info


def _check_sqlite(conn: Connection, path: Path) -> None:
    try:
        verdict = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
    except Exception as e:  # noqa: BLE001 - not a database at all, or a torn one
        raise BackupError(f"{path} is not a readable SQLite database: {e}") from None
    if verdict != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check: {verdict}")


def _backup_postgresql(config: ServerConfig, engine: Engine, partial: Path) -> dict:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            # pg_dump reads the very snapshot the summary was taken in, so the two describe the same rows.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            info = summary(conn)
            problems = ledger_problems(conn)
            done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                                   f"--file={partial}", "--dbname", _libpq_url(config)],
                                  capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done}")
    if problems:
        raise BackupError(f"the database fails the ledger checks ({'; '.join(problems)})")
    return info


# --- restore ------------------------------------------------------------------------------------------------------


def verify(path: Path) -> dict:
    """The backup's manifest, after checking the file matches it (digest); BackupError otherwise."""
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    mpath = manifest_path(path)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{mpath} is missing: a backup is the file and its manifest beside it") from None
    except (ValueError, OSError) as e:
        raise BackupError(f"{mpath} cannot be read: {e}") from None
    if sha256(path) != manifest.get("sha256"):
        raise BackupError(f"{path} does not match its manifest (changed or damaged since the backup)")
    return manifest


def restore(config: ServerConfig, engine: Engine, path: Path) -> tuple[dict, Path | None]:
    """Puts the backup in place of the current database; returns its summary and where the old data was kept."""
    path = path.resolve()
    manifest = verify(path)
    if manifest.get("backend") != engine.dialect.name:
        raise BackupError(f"{path.name} is a {manifest.get('backend')} backup and this server runs on "
                          f"{engine.dialect.name}; see `store-server move` to change backends")
    from .migrate import known

    if manifest.get("schema") and not known(manifest["schema"]):
        raise BackupError(f"{path.name} is at schema {manifest['schema']}, newer than this release knows")
    if engine.dialect.name == "sqlite":
        kept = _restore_sqlite(config, path, manifest)
    else:
        kept = _restore_postgresql(config, engine, path, manifest)
    return manifest, kept


def _compare(conn: Connection, manifest: dict, what: str) -> None:
    found = summary(conn)
    for key in ("rows", "ledger_sum", "ledger_by_kind"):
        if found[key] != manifest[key]:
            raise BackupError(f"{what}: {key} is {found[key]}, the manifest says {manifest[key]}; nothing replaced")
    problems = ledger_problems(conn)
    if problems:
        raise BackupError(f"{what} fails the ledger checks: {'; '.join(problems)}")


def keep_copy(config: ServerConfig, label: str) -> Path:
    """A plain copy of the SQLite database (online backup API) under DATA_DIR/backups, named by label and time."""
    folder = config.data_dir / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"store-{label}-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"
    _backup_sqlite_raw(_sqlite_file(config), dest)
    return dest


def _restore_sqlite(config: ServerConfig, path: Path, manifest: dict) -> Path | None:
    staged = _plain(path, read_only=True)
    try:
        with staged.connect() as conn:
            _check_sqlite(conn, path)
            _compare(conn, manifest, path.name)
    finally:
        staged.dispose()
    live = _sqlite_file(config)
    kept = None
    if live.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        kept = live.with_name(f"{live.stem}.before-restore-{stamp}.db")
        _backup_sqlite_raw(live, kept)
    live.parent.mkdir(parents=True, exist_ok=True)
    # Through the backup API into the live file: SQLite's locks keep a reader from seeing half of it.
    _backup_sqlite_raw(path, live, journal_wal=True)
    return kept


def _backup_sqlite_raw(source: Path, dest: Path, journal_wal: bool = False) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(dest, timeout=30)
    try:
        src.backup(dst)
        dst.execute(f"PRAGMA journal_mode={'WAL' if journal_wal else 'DELETE'}")
    finally:
        src.close()
        dst.close()


def _restore_postgresql(config: ServerConfig, engine: Engine, path: Path, manifest: dict) -> Path | None:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    kept = default_folder(config, usb=False) / f"store-before-restore-{stamp}.pgdump"
    if _has_tables(engine):
        backup(config, engine, kept)
    else:
        kept = None
    done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                           "--exit-on-error", "--dbname", _libpq_url(config), str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing changed: {done.stderr.strip().splitlines()[-1]}")
    with engine.connect() as conn:
        _compare(conn, manifest, "the restored database")
    return kept


def _has_tables(engine: Engine) -> bool:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return bool(inspect(conn).get_table_names())


# --- move: SQLite -> PostgreSQL -----------------------------------------------------------------------------------


def move(source: Engine, target: Engine, batch: int = 2000) -> dict:
    """Copies every table into an empty database (another backend) and checks the ledger came across whole."""
    from .db import metadata
    from .migrate import SchemaError, ensure_schema, state

    with source.connect() as conn:
        seen = state(conn)
    if not seen.up_to_date:
        raise SchemaError("the source database is not at this release's schema: run `store-server upgrade` first")
    with target.connect() as conn:
        busy = [t for t in metadata.sorted_tables
                if conn.dialect.has_table(conn, t.name) and conn.execute(select(func.count()).select_from(t))
                .scalar_one()]
    if busy:
        raise BackupError(f"the target database already holds data (table {busy[0].name}); move needs an empty one")
    ensure_schema(target)
    with source.connect() as src, target.begin() as dst:
        for table in metadata.sorted_tables:
            rows = src.execute(select(table)).mappings()
            while chunk := rows.fetchmany(batch):
                dst.execute(table.insert(), [dict(r) for r in chunk])
        if dst.dialect.name == "postgresql":
            for table in metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (column.autoincrement == "auto" and column.type
                                                        .python_type is int and len(table.primary_key) == 1):
                        # The copied ids were given explicitly; the sequence must continue after them.
                        dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                                         f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"))
    with source.connect() as a, target.connect() as b:
        before, after = summary(a), summary(b)
        if before != after:
            raise BackupError(f"the copy differs from the source ({before} vs {after}); the target is left as it "
                              f"is for inspection, the source is untouched")
        problems = ledger_problems(b)
    if problems:
        raise BackupError(f"the copy fails the ledger checks: {'; '.join(problems)}")
    return after


def backup_name(backend: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"store-{now:%Y%m%d-%H%M%S}.{'db' if backend == 'sqlite' else 'pgdump'}"
