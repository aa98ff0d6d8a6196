"""`store-server backup | restore | move`: the data room's commands (store_server/data/backup.py does the work)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import ServerConfig


def cmd_backup(args: argparse.Namespace) -> int:
    from . import backup as bk
    from .db import make_engine

    config = ServerConfig.load(args.config)
    engine = make_engine(config.database_url)
    if args.file:
        dest = Path(args.file)
        folder = dest.parent
    else:
        folder = Path(args.dir) if args.dir else bk.default_folder(config, usb=not args.no_usb)
        dest = folder / bk.backup_name(engine.dialect.name)
    try:
        result = bk.backup(config, engine, dest)
    finally:
        engine.dispose()
    m = result.manifest
    if args.json:
        print(json.dumps({**m, "file": str(result.path)}, ensure_ascii=False))
    else:
        print(f"backup written: {result.path} ({m['bytes']} bytes, schema {m['schema']}, "
              f"{m['rows']['ledger']} ledger rows summing to {m['ledger_sum']}; checked)")
    if args.keep_days is not None:
        for gone in bk.prune(folder, args.keep_days):
            print(f"removed {gone.name} (older than {args.keep_days:g} days)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from . import backup as bk
    from .db import make_engine
    from .migrate import upgrade

    config = ServerConfig.load(args.config)
    engine = make_engine(config.database_url)
    try:
        manifest, kept = bk.restore(config, engine, Path(args.file))
        before, after = upgrade(engine)  # a backup from an earlier release comes up to this one's schema
    finally:
        engine.dispose()
    print(f"restored {args.file} (taken {manifest['taken_at']}): {manifest['rows']['ledger']} ledger rows summing "
          f"to {manifest['ledger_sum']}, checked")
    if before != after:
        print(f"database schema upgraded: {before} -> {after}")
    if kept:
        print(f"the database it replaced is kept at {kept}")
    print("start the server again: systemctl start store-server")
    return 0


def cmd_move(args: argparse.Namespace) -> int:
    from . import backup as bk
    from .db import make_engine

    config = ServerConfig.load(args.config)
    target_config = ServerConfig.from_dict({"data_dir": str(config.data_dir), "database_url": args.to},
                                           origin="--to")
    source, target = make_engine(config.database_url), make_engine(target_config.database_url)
    try:
        if source.url == target.url:
            raise bk.BackupError("--to names the database the shop already runs on")
        moved = bk.move(source, target)
    finally:
        source.dispose()
        target.dispose()
    print(f"copied to {target_config.backend}: {moved['rows']['cards']} cards, {moved['rows']['customers']} "
          f"customers, {moved['rows']['operations']} operations, {moved['rows']['ledger']} ledger rows summing to "
          f"{moved['ledger_sum']}: the same as the source")
    print(f"now stop the server, set database_url = \"{args.to}\" in {args.config or 'server.toml'} and start it "
          f"again; the old database stays where it was")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("backup", help="a checked copy of the database while the server runs (for a timer)",
                       description="SQLite: the online backup API; PostgreSQL: pg_dump. The copy is checked "
                                   "(integrity, the ledger's sums) and a manifest FILE.json is written beside it. "
                                   "Without FILE it goes to a store-backups folder on a mounted USB stick if there "
                                   "is one (/media/*/, /mnt/*), else DATA_DIR/backups. Examples: store-server "
                                   "backup; store-server backup /root/before-upgrade.db; store-server backup "
                                   "--keep-days 14")
    p.add_argument("file", nargs="?", help="where to write it (default: a dated file in the backup folder)")
    p.add_argument("--dir", help="the folder for a dated file (instead of the USB stick / DATA_DIR/backups)")
    p.add_argument("--no-usb", action="store_true", help="do not look for a USB stick")
    p.add_argument("--keep-days", type=float, help="then delete this tool's backups older than this in the folder")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="put a backup back in place of the database (stop the server first)",
                       description="Checks the file against its manifest (SHA-256), SQLite's integrity check and "
                                   "the ledger's sums before it replaces anything; keeps a copy of the database it "
                                   "replaces; upgrades the schema if the backup is from an earlier release. "
                                   "Example: systemctl stop store-server; store-server restore "
                                   "/var/lib/store-server/backups/store-20261126-030000.db")
    p.add_argument("file")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("move", help="copy the shop into another (empty) database, e.g. PostgreSQL",
                       description="Copies every table into an empty database at this release's schema and checks "
                                   "that row counts and the ledger's sums match. Stop the server first. Example: "
                                   "store-server move --to postgresql+psycopg://shop@db.local/loyalty")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql+psycopg://USER[:PASSWORD]@HOST/DB")
    p.set_defaults(func=cmd_move)
