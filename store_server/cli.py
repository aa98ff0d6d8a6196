"""`store-server`: set up, run and administer the store server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .config import ConfigError, ServerConfig
from .security import new_secret


def cmd_init(args: argparse.Namespace) -> int:
    from . import shop
    from .data.migrate import upgrade
    from .db import make_engine

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = Path(args.config) if args.config else data_dir / "server.toml"
    if config_path.exists():
        config = ServerConfig.load(config_path)
    else:
        config = ServerConfig(data_dir=data_dir, demo=args.demo, shop_name=args.shop_name,
                              country=args.country, port=args.port, secret_key=new_secret(32))
        # The secret key and gateway credentials: readable by the server's own user only.
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(config.to_toml())
    engine = make_engine(config.database_url)
    upgrade(engine)  # a new database gets today's schema; one an earlier release left is brought up to date
    _tighten_sqlite_files(config.database_url)
    if args.demo:
        with engine.begin() as conn:
            shop.seed_demo(conn, config.shop_name, public_url=f"http://{config.host}:{config.port}")
    print(f"store server ready: config {config_path}, database {config.database_url}")
    return 0


def _tighten_sqlite_files(url: str) -> None:
    """Phones and the ledger: the owner writes, the group (backups) reads, nobody else (an earlier release
    left the database world-readable)."""
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o037:
                file.chmod(0o640)
        except FileNotFoundError:
            pass


def cmd_upgrade(args: argparse.Namespace) -> int:
    from .data.migrate import upgrade
    from .db import make_engine

    config = ServerConfig.load(args.config)
    engine = make_engine(config.database_url)
    before, after = upgrade(engine)
    engine.dispose()
    if before == after:
        print(f"database schema already at {after}")
    else:
        print(f"database schema upgraded: {before or 'before schema versions'} -> {after}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api.app import create_app
    from .api.limits import GuardedProtocol

    config = ServerConfig.load(args.config)
    if args.workers > 1:
        if "gsm_modem" in repr(config.sms):
            raise ConfigError("--workers > 1 cannot share the GSM modem's serial port; run one worker")
        # Each worker process builds its own app from the same config; SQLite writers queue on the
        # database's write lock (BEGIN IMMEDIATE), so exactly-once holds across processes too.
        if args.config:
            os.environ["STORE_SERVER_CONFIG"] = str(Path(args.config).resolve())
        uvicorn.run("store_server.api.factory:from_env", factory=True, workers=args.workers,
                    host=args.host or config.host, port=args.port or config.port, log_level="warning",
                    access_log=False, http=GuardedProtocol)
        return 0
    app = create_app(config)
    # GuardedProtocol: the connection cap and the request-head deadline (store_server/api/limits.py).
    uvicorn.run(app, host=args.host or config.host, port=args.port or config.port,
                log_level="warning", access_log=False, http=GuardedProtocol)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from datetime import timedelta
    from urllib.parse import urlencode

    from . import devices
    from .db import make_engine

    config = ServerConfig.load(args.config)
    with make_engine(config.database_url).begin() as conn:
        token = devices.create_enrolment_token(conn, role=args.role, ttl=timedelta(hours=args.hours))
    url = args.server_url or f"http://{config.host}:{config.port}"
    query = {"server": url, "token": token, **({"role": args.role} if args.role else {})}
    print(f"enrolment token: {token}")
    print(f"enrolment QR payload: lk://enrol?{urlencode(query)}")
    return 0


def cmd_sms_status(args: argparse.Namespace) -> int:
    from .api.app import build_gateway
    from .db import make_engine
    from .sms import delivery

    config = ServerConfig.load(args.config)
    with make_engine(config.database_url).begin() as conn:
        changed = delivery.poll(conn, build_gateway(config), limit=args.limit)
    print(f"delivery status updated for {changed} message(s)")
    return 0


def cmd_fraud_report(args: argparse.Namespace) -> int:
    from . import fraud
    from .db import make_engine

    config = ServerConfig.load(args.config)
    with make_engine(config.database_url).connect() as conn:
        rep = fraud.report(conn, days=args.days, min_devices=args.min_devices, min_unverified=args.min_unverified,
                           min_failed=args.min_failed)
    print(fraud.render(rep))
    return 1 if rep.signals and args.fail_on_signal else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="store-server", description=__doc__)
    parser.add_argument("--config", help="server.toml (default: $STORE_SERVER_CONFIG or "
                                         "/etc/store-server/server.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the database and config (with --demo: a demo shop)")
    p.add_argument("--data-dir", required=True, help="where the database and logs live")
    p.add_argument("--demo", action="store_true", help="demo shop: cards 10001-10100, 10%% rule, SMS on console")
    p.add_argument("--shop-name", default="Demo Shop")
    p.add_argument("--country", default="UA", help="default region for phone numbers (ISO 3166 code)")
    p.add_argument("--port", type=int, default=8700)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("upgrade", help="bring the database's schema to this release (run after installing a new one)",
                       description="Apply the schema migrations this release brings, in one transaction; "
                                   "a database that is already current is left alone. Example: "
                                   "store-server --config /etc/store-server/server.toml upgrade")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1, help="server processes (more look-ups/s on multi-core machines)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("enrolment-token", help="create a one-time device enrolment token and its QR payload")
    p.add_argument("--role", choices=["entrance", "cashier"], required=True,
                   help="the role the device gets (a token without one is refused at enrolment)")
    p.add_argument("--hours", type=float, default=24, help="how long the token stays valid")
    p.add_argument("--server-url", help="the URL devices use to reach this server")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("fraud-report", help="phones that got codes from many devices; codes for staff "
                                                "phones; devices pumping SMS or guessing codes")
    p.add_argument("--days", type=float, default=7, help="how far back to look")
    p.add_argument("--min-devices", type=int, default=3, help="devices per phone that count as many")
    p.add_argument("--min-unverified", type=int, default=10,
                   help="numbers per device that never entered their code (SMS pumping)")
    p.add_argument("--min-failed", type=int, default=20, help="wrong codes per device that count as many")
    p.add_argument("--fail-on-signal", action="store_true", help="exit 1 when there is anything to report")
    p.set_defaults(func=cmd_fraud_report)

    p = sub.add_parser("sms-status", help="ask the SMS providers how recent messages fared (for a timer)")
    p.add_argument("--limit", type=int, default=100, help="at most this many messages per run")
    p.set_defaults(func=cmd_sms_status)

    from .admin.cli import add_commands as add_account_commands
    from .admin_cli import add_commands

    add_commands(sub)
    add_account_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Whatever the server creates (database, WAL, backups, exports) is not world-readable.
    os.umask(os.umask(0o027) | 0o027)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"store-server: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
