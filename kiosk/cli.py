"""`kiosk`: run the kiosk, the demo store, provisioning and the outbox."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from .config import DEFAULT_PATH, ConfigError, KioskConfig


def cmd_run(args: argparse.Namespace) -> int:
    from .demo import run_app
    from .runtime import build_runtime

    config = KioskConfig.load(args.config)
    runtime = build_runtime(config)
    if not runtime.store.get_setting("device_key"):
        print("this kiosk is not enrolled yet: run `kiosk provision --server URL --token T --role R`",
              file=sys.stderr)
        return 2
    from .watchdog import KivyPinger

    # READY=1 and watchdog pings for kiosk.service (Type=notify); the name keeps it alive, the clock holds it weakly.
    _pinger = KivyPinger().start()
    return run_app(runtime, scripted=False)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    width, height = (int(v) for v in args.size.split("x"))
    return run_demo(Path(args.out), scripted=args.scripted, role=args.role, lang=args.lang, size=(width, height))


def cmd_provision(args: argparse.Namespace) -> int:
    from . import enrol
    from .client import ServerError, ServerUnreachable

    try:
        if args.qr or args.scan:
            if args.server or args.token:
                raise enrol.EnrolmentError("give either --server/--token or an enrolment QR, not both")
            enrolment = enrol.from_qr(args.qr, args.role) if args.qr else _scan_enrolment(args)
        else:
            if not (args.server and args.token and args.role):
                raise enrol.EnrolmentError("--server, --token and --role are needed (or --qr / --scan)")
            enrolment = enrol.from_arguments(args.server, args.token, args.role)
        enrolled = enrol.enrol(enrolment, config_path=args.config, name=args.name, state_dir=args.state_dir)
    except enrol.EnrolledElsewhere as e:
        print(f"kiosk provision: {e.args[0]} ({e.args[1]} written); no QR needed", flush=True)
        return 0
    except enrol.EnrolmentError as e:
        print(f"kiosk provision: {e}", file=sys.stderr)
        return 2
    except ServerUnreachable as e:
        # kiosk-firstboot retries on this exit code until the network is up.
        print(f"kiosk provision: {e}", file=sys.stderr)
        return enrol.EX_TEMPFAIL
    except ServerError as e:
        print(f"kiosk provision: enrolment failed: {e}", file=sys.stderr)
        return 1
    print(f"enrolled as {enrolment.role} device {enrolled['device_id']} at {enrolment.server}")
    return 0


def cmd_firstboot(args: argparse.Namespace) -> int:
    from . import firstboot

    environ = dict(os.environ)
    if args.config:
        environ["KIOSK_CONFIG"] = args.config
    return firstboot.main(environ)


def _scan_enrolment(args: argparse.Namespace):
    from drivers.scanner.manager import ScannerManager

    from . import enrol

    scanners = enrol.enrolment_scanners(args.config)
    config_path = Path(args.config or os.environ.get("KIOSK_CONFIG") or DEFAULT_PATH)
    before = _file_stamp(config_path)

    # `kiosk provision` stores the device key first and renames kiosk.toml into place last: once the file
    # changed, the other enrolment is complete.
    def enrolled_elsewhere() -> bool:
        return _file_stamp(config_path) != before

    print(f"scan the enrolment QR code now (waiting {args.scan_timeout:.0f} s)", flush=True)
    with ScannerManager(scanners) as manager:
        try:
            return enrol.wait_for_qr(manager.queue, args.scan_timeout, args.role,
                                     on_other=lambda why: print(f"ignored: {why}", flush=True),
                                     enrolled_elsewhere=enrolled_elsewhere)
        except enrol.EnrolledElsewhere as e:
            raise enrol.EnrolledElsewhere(str(e), config_path) from None


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _when(ts: float | None) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "never"


def cmd_queue_status(args: argparse.Namespace) -> int:
    from .store import LocalStore

    config = KioskConfig.load(args.config)
    store = LocalStore(config.database)
    status = store.sync_status()
    store.close()
    print(f"pending: {status['pending']}\ndone: {status['done']}\nfailed: {status['failed']}")
    print(f"last success: {_when(status['last_success'])}")
    if status["last_error"]:
        print(f"last error: {status['last_error']} ({_when(status['last_error_at'])})")
    if status["failed"]:
        print("failed operations wait for a technician: `kiosk queue failed`, then `kiosk queue retry`")
    return 0


def cmd_queue_failed(args: argparse.Namespace) -> int:
    from .store import LocalStore

    config = KioskConfig.load(args.config)
    store = LocalStore(config.database)
    rows = store.failed()
    store.close()
    for r in rows:
        # The payload may hold a phone number: show the card and amount only.
        p = r["payload"]
        what = " ".join(f"{k}={p[k]}" for k in ("card_number", "amount") if p.get(k) is not None)
        print(f"{r['id']}  {r['type']:<9} {r['at'][:19]}  {what}  -> {r['failure']}")
    print(f"{len(rows)} failed operation(s)")
    return 0


def cmd_queue_retry(args: argparse.Namespace) -> int:
    from .store import LocalStore

    if not args.ids and not args.all:
        print("kiosk queue retry: name operation ids (from `kiosk queue failed`) or pass --all", file=sys.stderr)
        return 2
    config = KioskConfig.load(args.config)
    store = LocalStore(config.database)
    new_ids = store.retry_failed(None if args.all else args.ids)
    store.close()
    print(f"{len(new_ids)} operation(s) queued again; the running kiosk sends them on its next sync")
    return 0 if new_ids or args.all else 1


def cmd_pin(args: argparse.Namespace) -> int:
    """Sets the technician PIN of the on-screen menu (over SSH, or from a provisioning script)."""
    import getpass

    from .flows.technician import PinChange, PinLock
    from .messages import message
    from .store import LocalStore

    config = KioskConfig.load(args.config)
    if sys.stdin.isatty():
        typed = [getpass.getpass("new technician PIN: "), getpass.getpass("again: ")]
    else:  # `echo 4711 | kiosk pin`: one line, nothing echoed in a terminal's history but the pipe's
        typed = [sys.stdin.readline().strip()] * 2
    store = LocalStore(config.database)
    try:
        change = PinChange(PinLock(store))
        for pin in typed:
            change.entry.text = pin  # as if typed on the screen's numpad; submit() checks it the same way
            change.submit()
            if change.error:
                break
    finally:
        store.close()
    if not change.done:
        print(f"kiosk pin: {message(change.error or 'bad_pin')}", file=sys.stderr)
        return 2
    print("technician PIN changed")
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    from . import selftest

    checks = selftest.run_all(KioskConfig.load(args.config))
    print(selftest.report(checks))
    return selftest.exit_code(checks)


def cmd_selftest_scanners(args: argparse.Namespace) -> int:
    from drivers.scanner import selftest as scanner_selftest
    from drivers.scanner.config import ScannerConfig, ScannerConfigError

    try:
        raw = KioskConfig.load(args.config).scanners
    except ConfigError as e:
        if args.config or os.environ.get("KIOSK_CONFIG"):
            raise
        # Before the kiosk is configured is exactly when a technician wants to see the scanners.
        print(f"({e}: listing devices with no scanners configured)")
        raw = {}
    try:
        config = ScannerConfig.from_dict(raw)
    except ScannerConfigError as e:
        print(f"kiosk selftest scanners: {e}", file=sys.stderr)
        return 2
    return scanner_selftest.run(config, input_root=args.input_root)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__)
    parser.add_argument("--config", help="kiosk.toml (default: $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the kiosk (enrolled device)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="a demo store on this machine: store server + kiosk window")
    p.add_argument("--scripted", action="store_true",
                   help="play a customer journey by itself and save a screenshot of each step")
    p.add_argument("--out", default="demo-output", help="folder for the demo's data and screenshots")
    p.add_argument("--role", choices=["entrance", "cashier"], default="entrance")
    p.add_argument("--lang", choices=["en", "uk", "ru", "kk", "vi"], default="en")
    p.add_argument("--size", default="800x480", help="window size, e.g. 1280x800 or 480x800 (portrait)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("provision", help="enrol this device with the store server")
    p.add_argument("--server", help="store server URL, e.g. https://shop.example:8700")
    p.add_argument("--token", help="one-time enrolment token from `store-server enrolment-token`")
    p.add_argument("--role", choices=["entrance", "cashier"], help="needed unless the enrolment QR names it")
    p.add_argument("--qr", help="an enrolment QR payload instead: 'lk://enrol?server=..&token=..&role=..'")
    p.add_argument("--scan", action="store_true",
                   help="wait for the enrolment QR on the scanners of kiosk.toml, or on every scanner found")
    p.add_argument("--scan-timeout", type=float, default=300.0, help="seconds to wait with --scan")
    p.add_argument("--name", default=socket.gethostname(), help="device name shown on the server")
    p.add_argument("--state-dir", help="where the local database lives (default /var/lib/kiosk)")
    p.set_defaults(func=cmd_provision)

    p = sub.add_parser("firstboot", help="provision from kiosk-provision.toml on the boot partition (Wi-Fi, "
                       "rotation, enrolment; run by kiosk-firstboot.service, see docs/operations.md)")
    p.set_defaults(func=cmd_firstboot)

    p = sub.add_parser("queue", help="the outbox of operations waiting for the server")
    qsub = p.add_subparsers(dest="queue_command", required=True)
    q = qsub.add_parser("status", help="pending / done / failed counts, last sync success and error")
    q.set_defaults(func=cmd_queue_status)
    q = qsub.add_parser("failed", help="operations the server rejected, with its reason")
    q.set_defaults(func=cmd_queue_failed)
    q = qsub.add_parser("retry", help="send rejected operations again (a technician's decision)")
    q.add_argument("ids", nargs="*", help="operation ids from `kiosk queue failed`")
    q.add_argument("--all", action="store_true", help="every failed operation")
    q.set_defaults(func=cmd_queue_retry)

    p = sub.add_parser("pin", help="set the technician PIN of the on-screen menu (typed twice, or one line on "
                                   "stdin)")
    p.set_defaults(func=cmd_pin)

    p = sub.add_parser("selftest", help="check display, scanners, indicators, modem, server, storage, "
                                        "language catalogues and the card format ([cards] sample); print a report")
    p.set_defaults(func=cmd_selftest)
    # Bare `kiosk selftest` runs every check; single checks (e.g. `selftest scanners`) are added here.
    selftest_sub = p.add_subparsers(dest="selftest_command")
    s = selftest_sub.add_parser("all", help="every check (the default)")
    s.set_defaults(func=cmd_selftest)
    s = selftest_sub.add_parser("scanners", help="input devices and serial ports: which the configured scanners "
                                "would use, and why the others are skipped")
    s.add_argument("--input-root", default="/dev/input", help="where the event nodes are (default /dev/input)")
    s.set_defaults(func=cmd_selftest_scanners)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"kiosk: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
