"""`store-server`: set up, run and administer the store server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .config import DEFAULT_PORT, ConfigError, ServerConfig
from .security import new_secret

# A country's usual time zone, so `init --country KZ` needs no --timezone; others pass it.
TIMEZONES = {"UA": "Europe/Kyiv", "KZ": "Asia/Almaty", "UZ": "Asia/Tashkent", "KG": "Asia/Bishkek",
             "VN": "Asia/Ho_Chi_Minh", "MD": "Europe/Chisinau", "GE": "Asia/Tbilisi", "AM": "Asia/Yerevan",
             "AZ": "Asia/Baku", "PL": "Europe/Warsaw", "GB": "Europe/London", "DE": "Europe/Berlin"}


def _config_flag(config_path: Path) -> str:
    """The --config the next commands need (none for the default path the unit uses)."""
    import shlex

    from .config import DEFAULT_PATH

    if config_path.resolve() == DEFAULT_PATH or os.environ.get("STORE_SERVER_CONFIG") == str(config_path):
        return ""
    return f" --config {shlex.quote(str(config_path))}"


def cmd_init(args: argparse.Namespace) -> int:
    from . import settings_schema, shop, shops
    from .data.db import make_engine, write_transaction
    from .data.migrate import upgrade
    from .errors import DomainError

    data_dir = Path(args.data_dir).resolve()
    config_path = Path(args.config or os.environ.get("STORE_SERVER_CONFIG") or data_dir / "server.toml").resolve()
    shop_values = {"public_name": args.shop_name or ("Demo Shop" if args.demo else None), "country": args.country,
                   "languages": args.languages, "timezone": args.timezone,
                   "public_url": args.public_url}
    if shop_values["timezone"] is None and args.country:
        shop_values["timezone"] = TIMEZONES.get(args.country.upper())
    new_config = not config_path.exists()
    if new_config and not shop_values["public_name"]:
        raise ConfigError("init needs the shop's name customers will see: --shop-name \"My Shop\" (or --demo)")
    if new_config and args.country and not shop_values["timezone"]:
        raise ConfigError(f"no usual time zone known for {args.country}: pass --timezone, e.g. Europe/Kyiv")
    try:  # every value checked before anything is written
        checked = {key: settings_schema.parse(key, value) for key, value in shop_values.items() if value is not None}
    except DomainError as e:
        raise ConfigError(e.message) from None

    if new_config:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = ServerConfig(data_dir=data_dir, demo=args.demo, host=args.host, port=args.port,
                              database_url=args.database_url or "", secret_key=new_secret(32))
        config_path.parent.mkdir(parents=True, exist_ok=True)
        # The secret key and gateway credentials: readable by the server's own user only.
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(config.to_toml())
    else:
        config = ServerConfig.load(config_path)
        data_dir = config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(config.database_url)
    before, after = upgrade(engine)  # a new database gets today's schema; an older one is brought up to date
    _tighten_sqlite_files(config.database_url)
    with write_transaction(engine) as conn:
        for key, value in checked.items():
            shop.set_setting(conn, key, value)
        if args.demo:
            shop.seed_demo(conn, shop.get(conn, "public_name"), public_url=f"http://{config.host}:{config.port}")
        name, country = shop.get(conn, "public_name"), shop.get(conn, "country")
        languages, zone = shop.get(conn, "languages"), shop.get(conn, "timezone")
        shops.ensure_default(conn)  # the first shop (`main`); a chain adds more with `store-server shops add`
    engine.dispose()
    flag = _config_flag(config_path)
    url = f"http://{config.host}:{config.port}"
    print(f"store server ready: config {config_path}{'' if new_config else ' (kept)'}, "
          f"database {config.backend} {config.database_url} at schema {after}")
    print(f"shop: {name}, country {country}, languages {','.join(languages)}, time zone {zone}")
    print("next:")
    if not config.demo and not config.sms:
        print(f"  add an SMS gateway to {config_path} ([[sms.gateways]], docs/sms.md); serve needs one")
    print(f"  store-server{flag} cards issue 10001 20000          # your printed cards' numbers")
    print(f"  store-server{flag} settings list                    # codes, limits, SMS, privacy")
    print(f"  store-server{flag} serve                            # listens on {url}")
    print(f"  store-server{flag} enrolment-token --role entrance --server-url {url}")
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
    from .data import backup
    from .data.db import make_engine
    from .data.migrate import state, upgrade

    config = ServerConfig.load(args.config)
    engine = make_engine(config.database_url)
    kept = None
    with engine.connect() as conn:
        seen = state(conn)
    if not seen.up_to_date and not seen.empty and engine.dialect.name == "sqlite":
        # A copy of the database as it was, in case the new release must be rolled back.
        kept = backup.keep_copy(config, f"before-upgrade-{seen.current or 'unversioned'}")
    before, after = upgrade(engine)
    engine.dispose()
    if before == after:
        print(f"database schema already at {after}")
    else:
        print(f"database schema upgraded: {before or 'before schema versions'} -> {after}")
        if kept:
            print(f"the database as it was is kept at {kept}")
    return 0


def _start_line(config: ServerConfig, host: str, port: int, workers: int, gateway) -> str:
    from sqlalchemy.engine import make_url

    from .data.migrate import head

    url = make_url(config.database_url).render_as_string(hide_password=True)
    return (f"store server {__version__} listening on http://{host}:{port}, database {config.backend} {url} "
            f"(schema {head()}), SMS through {getattr(gateway, 'name', 'none')}, {workers} worker(s)")


def cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import shutil

    import uvicorn

    from . import logs
    from .api.app import check_stored_settings, create_app, gateway_for
    from .api.factory import settle_heap
    from .api.limits import GuardedProtocol

    config = ServerConfig.load(args.config)
    logs.setup(config.log_level, config.log_format)
    host, port = args.host or config.host, args.port or config.port
    if args.workers > 1:
        from .data.db import create_schema, make_engine

        if "gsm_modem" in repr(config.sms):
            raise ConfigError("--workers > 1 cannot share the GSM modem's serial port; run one worker")
        # The checks each worker makes at start, once here, so a bad config says so in one line, not N tracebacks.
        engine = make_engine(config.database_url)
        create_schema(engine)
        check_stored_settings(engine)
        engine.dispose()
        gateway = gateway_for(config)
        # Each worker process builds its own app from the same config; SQLite writers queue on the
        # database's write lock (BEGIN IMMEDIATE), so exactly-once holds across processes too.
        if args.config:
            os.environ["STORE_SERVER_CONFIG"] = str(Path(args.config).resolve())
        # Each worker counts into its own files here; /metrics adds them up (store_server/api/observe.py).
        metrics_dir = config.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        logging.getLogger("store_server").info(_start_line(config, host, port, args.workers, gateway))
        uvicorn.run("store_server.api.factory:from_env", factory=True, workers=args.workers, host=host, port=port,
                    log_config=None, access_log=False, http=GuardedProtocol)
        return 0
    app = create_app(config)
    settle_heap()
    # GuardedProtocol: the connection cap and the request-head deadline (store_server/api/limits.py).
    logging.getLogger("store_server").info(_start_line(config, host, port, 1, app.state.gateway))
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, http=GuardedProtocol)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from datetime import timedelta
    from urllib.parse import urlencode

    from . import devices
    from .data.db import make_engine, write_transaction
    from .errors import DomainError

    config = ServerConfig.load(args.config)
    with write_transaction(make_engine(config.database_url)) as conn:
        try:
            token = devices.create_enrolment_token(conn, role=args.role, ttl=timedelta(hours=args.hours),
                                                   shop=args.shop)
        except DomainError as e:
            print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
            return 1
    url = args.server_url or f"http://{config.host}:{config.port}"
    query = {"server": url, "token": token, **({"role": args.role} if args.role else {})}
    print(f"enrolment token: {token}")
    print(f"enrolment QR payload: lk://enrol?{urlencode(query)}")
    return 0


def cmd_sms_status(args: argparse.Namespace) -> int:
    from .api.app import gateway_for
    from .data.db import make_engine
    from .messaging.sms import delivery

    config = ServerConfig.load(args.config)
    changed = delivery.poll(make_engine(config.database_url), gateway_for(config), limit=args.limit)
    print(f"delivery status updated for {changed} message(s)")
    return 0


def cmd_fraud_report(args: argparse.Namespace) -> int:
    from . import fraud
    from .data.db import make_engine

    config = ServerConfig.load(args.config)
    with make_engine(config.database_url).connect() as conn:
        rep = fraud.report(conn, days=args.days, min_devices=args.min_devices, min_unverified=args.min_unverified,
                           min_failed=args.min_failed)
    if args.json:
        from .admin_cli import print_json

        print_json(rep)
    else:
        print(fraud.render(rep))
    return 1 if rep.signals and args.fail_on_signal else 0


def cmd_clock_report(args: argparse.Namespace) -> int:
    from .data.db import make_engine
    from .ledger import device_clock

    config = ServerConfig.load(args.config)
    with make_engine(config.database_url).connect() as conn:
        rows = device_clock.report(conn, days=args.days)
    print(device_clock.render(rows, args.days))
    return 1 if rows and args.fail_on_signal else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="store-server", description=__doc__,
                                     epilog="docs/server.md has a first-shop walkthrough. Example: "
                                            "store-server --config /etc/store-server/server.toml settings list")
    parser.add_argument("--version", action="version", version=f"store-server {__version__}")
    parser.add_argument("--config", help="server.toml (default: $STORE_SERVER_CONFIG or "
                                         "/etc/store-server/server.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "init", help="set up a shop: server.toml, the database, the shop's name, country, languages, time zone",
        description="Writes server.toml (into --data-dir unless --config names it), creates or upgrades the "
                    "database and stores the shop's settings. Run again, it keeps server.toml and the data and "
                    "changes only the settings given. Example: store-server --config /etc/store-server/server.toml "
                    "init --data-dir /var/lib/store-server --shop-name \"Kavun\" --country UA --languages uk,en")
    p.add_argument("--data-dir", required=True, help="where the database and the demo SMS file live")
    p.add_argument("--demo", action="store_true", help="demo shop: cards 10001-10100, 10%% rule, SMS on console")
    p.add_argument("--shop-name", help="the name customers see (required for a real shop)")
    p.add_argument("--country", help="ISO 3166 code: how phone numbers without +country are read (default UA)")
    p.add_argument("--languages", help="languages customers choose from, the first is the default, e.g. uk,en")
    p.add_argument("--timezone", help="the shop's time zone, e.g. Europe/Kyiv (default: the country's usual one)")
    p.add_argument("--public-url", help="the address customers' phones reach the server at (card page links)")
    p.add_argument("--host", default="127.0.0.1", help="the address serve listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port serve listens on (default "
                                                                   f"{DEFAULT_PORT})")
    p.add_argument("--database-url", help="postgresql+psycopg://USER@HOST/DB for PostgreSQL (default: SQLite "
                                          "in --data-dir)")
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
    p.add_argument("--shop", help="the shop's code the device will belong to (default: the only shop; a chain of "
                                  "several must say which, `store-server shops list`)")
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

    p = sub.add_parser("clock-report", help="operations whose device time was corrected or refused, per device")
    p.add_argument("--days", type=float, default=7, help="how far back to look")
    p.add_argument("--fail-on-signal", action="store_true", help="exit 1 when there is anything to report")
    p.set_defaults(func=cmd_clock_report)

    p = sub.add_parser("sms-status", help="ask the SMS providers how recent messages fared (for a timer)")
    p.add_argument("--limit", type=int, default=100, help="at most this many messages per run")
    p.set_defaults(func=cmd_sms_status)

    from .admin.cli import add_commands as add_account_commands
    from .admin_cli import add_commands
    from .data.commands import add_commands as add_data_commands
    from .shops_cli import add_commands as add_shop_commands

    add_commands(sub)
    add_shop_commands(sub)
    add_account_commands(sub)
    add_data_commands(sub)
    from .cli_help import finish

    return finish(parser)


def main(argv: list[str] | None = None) -> int:
    # Whatever the server creates (database, WAL, backups, exports) is not world-readable.
    os.umask(os.umask(0o027) | 0o027)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"store-server: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("store-server: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - an operator gets one line and an exit code, never a traceback
        from sqlalchemy.exc import DBAPIError

        from .errors import DomainError

        if isinstance(e, DomainError):
            print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
            return 1
        if isinstance(e, DBAPIError):  # database gone, locked for too long, disk full
            print(f"store-server: the database failed: {str(e.orig).splitlines()[0] if e.orig else e}",
                  file=sys.stderr)
            return 2
        if os.environ.get("STORE_SERVER_DEBUG"):
            raise
        print(f"store-server: unexpected {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
              f"(STORE_SERVER_DEBUG=1 shows where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
