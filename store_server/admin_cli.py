"""Admin commands of `store-server`: cards, rules, tiers, devices, settings, import, reports, expiry."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from .config import ServerConfig
from .errors import DomainError


def _engine(args: argparse.Namespace):
    from .data.db import create_schema, make_engine

    engine = make_engine(ServerConfig.load(args.config).database_url)
    create_schema(engine)
    return engine


def _run(args: argparse.Namespace, action) -> int:
    from .data.db import write_transaction

    try:
        # A command reads and then writes while the server may be writing: BEGIN IMMEDIATE waits for SQLite's
        # write lock, where a plain (deferred) transaction fails at once with "database is locked" when the
        # server commits between this command's read and its write.
        with write_transaction(_engine(args)) as conn:
            action(conn)
    except DomainError as e:
        print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
        return 1
    return 0


def print_json(value) -> None:
    """--json output of the list and report commands: plain JSON, times as ISO text, phones masked."""
    import dataclasses

    from loyalty_common.phones import mask

    def plain(v, key=None):
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            v = dataclasses.asdict(v)
        if isinstance(v, dict):
            return {k: plain(x, k) for k, x in v.items() if k != "phone" or "phone_masked" not in v}
        if isinstance(v, list | tuple | set):
            return [plain(x) for x in v]
        if key == "phone" and isinstance(v, str):
            return mask(v)
        if isinstance(v, datetime | date):
            return v.isoformat()
        return v
    print(json.dumps(plain(value), ensure_ascii=False, indent=2, default=str))


class ProgressBar:
    """A one-line bar on stderr, redrawn at most every percent so it costs nothing on big files."""

    def __init__(self, label: str, stream=None, width: int = 30) -> None:
        # sys.stderr when drawn, not when this module was imported: whoever redirected it gets the bar
        self.label, self.stream, self.width, self.shown = label, stream or sys.stderr, width, -1

    def __call__(self, done: int, total: int) -> None:
        pct = done * 100 // max(total, 1)
        if pct == self.shown and done != total:
            return
        self.shown = pct
        filled = self.width * done // max(total, 1)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {pct:3d}% {done}/{total}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def cmd_cards_issue(args):
    from . import cards

    def act(conn):
        n = cards.issue_range(conn, args.first, args.last, card_type=args.type, ean13_prefix=args.ean13_prefix,
                              activation_codes=bool(args.activation_codes), by=_login(), shop=args.shop)
        print(f"{n} cards issued ({args.first}-{args.last}, type {args.type})")
        if args.activation_codes:
            _write_codes(conn, args, args.activation_codes)
    return _run(args, act)


def _write_codes(conn, args, out: str) -> None:
    from . import cards
    from .card_formats import rules_for
    from .ledger import takeover

    pairs = takeover.generate(conn, cards.range_numbers(args.first, args.last, args.ean13_prefix,
                                                        rules_for(conn, getattr(args, "shop", None))))
    takeover.write_csv(Path(out), pairs)
    print(f"{len(pairs)} activation codes written to {out} (stored hashed: print them, then delete the file)")


def cmd_cards_export_codes(args):
    return _run(args, lambda conn: _write_codes(conn, args, args.out))


def cmd_cards_type(args):
    from . import cards
    return _run(args, lambda conn: (cards.create_type(conn, args.name, args.kind, args.discount),
                                    print(f"card type {args.name} created")))


def cmd_cards_state(args):
    from . import cards
    return _run(args, lambda conn: (cards.set_state(conn, args.number, args.state),
                                    print(f"card {args.number}: {args.state}")))


def cmd_cards_number(args):
    from . import cards
    return _run(args, lambda conn: (cards.add_number(conn, args.card, args.extra),
                                    print(f"{args.extra} now also means card {args.card}")))


def _login() -> str | None:
    """Who runs a CLI command, for the history of rules and ranges."""
    import getpass

    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _rule_fields(args, rules) -> dict:
    """The rule options given on the command line (for `edit`, only those given)."""
    fields: dict = {}
    if args.percent is not None:
        fields.update(kind="percent", value=round(args.percent * 100))
    elif args.fixed is not None:
        fields.update(kind="fixed", value=args.fixed)
    if args.time_from:
        fields.update(time_from=rules.parse_time(args.time_from), time_to=rules.parse_time(args.time_to))
    if getattr(args, "all_day", False):
        fields.update(time_from=None, time_to=None)
    for key in ("name", "priority", "card_type", "weekdays", "valid_from", "valid_to"):
        if getattr(args, key) is not None:
            fields[key] = getattr(args, key)
    if args.shop:
        fields["shops"] = args.shop
    if getattr(args, "chain", False):
        fields["shops"] = None
    if args.no_combine:
        fields["combine"] = False
    if getattr(args, "combine", False):
        fields["combine"] = True
    return fields


def cmd_rules_add(args):
    from .ledger import rules

    def act(conn):
        rid = rules.create(conn, by=_login(), **{"priority": 10, "combine": True, **_rule_fields(args, rules)})
        print(f"rule {rid} created")
    if bool(args.time_from) != bool(args.time_to):
        print("store-server: --from and --to go together", file=sys.stderr)
        return 2
    return _run(args, act)


def cmd_rules_edit(args):
    from .ledger import rules

    def act(conn):
        rule = rules.edit(conn, args.id, by=_login(), **_rule_fields(args, rules))
        print(f"rule {args.id} saved (version {rule['version']})")
    if bool(args.time_from) != bool(args.time_to):
        print("store-server: --from and --to go together", file=sys.stderr)
        return 2
    return _run(args, act)


def cmd_rules_change(args):
    from .ledger import rules

    def act(conn):
        if args.change == "delete":
            rules.delete(conn, args.id, by=_login())
        else:
            rules.set_active(conn, args.id, args.change == "enable", by=_login())
        print(f"rule {args.id} {args.change}d")
    return _run(args, act)


def cmd_tiers_delete(args):
    from sqlalchemy import select

    from .data.db import tiers as tier_table
    from .ledger import tiers

    def act(conn):
        tier_id = conn.execute(select(tier_table.c.id).where(tier_table.c.name == args.name)).scalar()
        if tier_id is None:
            raise DomainError("tier_not_found", f"no tier {args.name!r}")
        tiers.delete(conn, tier_id, by=_login())
        print(f"tier {args.name} deleted")
    return _run(args, act)


def cmd_rules_list(args):
    from .ledger import rules

    def act(conn):
        listed = rules.listing(conn) if args.all else [r.__dict__ for r in rules.load(conn)]
        if args.json:
            return print_json(listed)
        for r in (SimpleNamespace(**row) for row in listed):
            value = f"{r.value / 100:g}%" if r.kind == "percent" else f"{r.value} fixed"
            window = (f" {r.time_from // 60:02d}:{r.time_from % 60:02d}-{r.time_to // 60:02d}:{r.time_to % 60:02d}"
                      if r.time_from is not None else "")
            print(f"{r.id}\tp{r.priority}\t{value}\t{'combine' if r.combine else 'alone'}{window}"
                  f"{' days ' + r.weekdays if r.weekdays else ''}{' type ' + r.card_type if r.card_type else ''}"
                  f"{' shops ' + ','.join(r.shops) if r.shops else ''}"
                  f"\t{r.name}{'' if getattr(r, 'active', True) else ' (disabled)'}")
    return _run(args, act)


def cmd_tiers_add(args):
    from .ledger import tiers
    return _run(args, lambda conn: (tiers.create(conn, name=args.name, min_turnover=args.min_turnover,
                                                 rate=round(args.percent * 100), shops=args.shop),
                                    print(f"tier {args.name} created")))


def cmd_tiers_list(args):
    from .ledger import tiers
    if args.json:
        return _run(args, lambda conn: print_json(list(reversed(tiers.load(conn)))))
    return _run(args, lambda conn: [print(f"{t.name}\tfrom {t.min_turnover}\t+{t.rate / 100:g}%"
                                          + (f"\tshops {','.join(t.shops)}" if t.shops else ""))
                                    for t in reversed(tiers.load(conn))])


def cmd_devices_list(args):
    from sqlalchemy import select

    from .data.db import devices
    from .messaging.till_activation import device_modes

    def act(conn):
        own = device_modes(conn)
        if args.json:
            return print_json([{"id": d["id"], "name": d["name"], "role": d["role"], "shop": d["shop"],
                                "created_at": d["created_at"],
                                "revoked_at": d["revoked_at"], "till_activation": own.get(d["id"])}
                               for d in conn.execute(select(devices).order_by(devices.c.created_at)).mappings()])
        for d in conn.execute(select(devices).order_by(devices.c.created_at)).mappings():
            state = f"revoked {d['revoked_at']:%Y-%m-%d %H:%M}" if d["revoked_at"] else "active"
            right = f"\ttill_activation={own[d['id']]}" if d["id"] in own else ""
            print(f"{d['id']}\t{d['role']}\t{state}\t{d['name']}{right}\tshop={d['shop']}")
    return _run(args, act)


def cmd_devices_till_activation(args):
    from .messaging.till_activation import set_device_mode

    mode = None if args.mode == "shop" else args.mode
    return _run(args, lambda conn: (set_device_mode(conn, args.device_id, mode),
                                    print(f"device {args.device_id}: till_activation "
                                          f"{mode or 'as the shop setting'}")))


def cmd_devices_revoke(args):
    from . import devices
    return _run(args, lambda conn: (devices.revoke(conn, args.device_id), print(f"device {args.device_id} revoked")))


def cmd_settings_set(args):
    from . import settings_schema, shop

    if args.shop:
        from .shops_cli import cmd_shop_settings

        return cmd_shop_settings(args)

    def act(conn):
        value = shop.set_setting(conn, args.key, settings_schema.parse(args.key, " ".join(args.value)))
        print(f"{args.key} = {settings_schema.plain(value)}")
    return _run(args, act)


def cmd_settings_reset(args):
    from . import settings_schema, shop

    if args.shop:
        from .shops_cli import cmd_shop_settings

        return cmd_shop_settings(args)

    def act(conn):
        shop.reset_setting(conn, args.key)
        print(f"{args.key} = {settings_schema.plain(settings_schema.DEFAULTS[args.key])} (the default)")
    return _run(args, act)


def cmd_settings_list(args):
    from . import settings_schema, shop

    if args.shop:
        from .shops_cli import cmd_shop_settings

        return cmd_shop_settings(args)

    def act(conn):
        rows = settings_schema.listing(shop.stored(conn))
        if args.group:
            rows = [r for r in rows if r["group"] == args.group]
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for group, title in settings_schema.GROUPS.items():
            in_group = [r for r in rows if r["group"] == group]
            if not in_group:
                continue
            print(f"# {title}")
            for r in in_group:
                default = "(default)" if r["is_default"] else f"(default: {settings_schema.plain(r['default'])})"
                print(f"{r['key']} = {settings_schema.plain(r['value'])}  {default}")
                print(f"    {r['type']}: {r['description']}")
    return _run(args, act)


def _operator() -> str:
    import getpass

    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "operator"


def cmd_activations_list(args):
    from .cashiers import display, names
    from .messaging.till_activation import listing

    with _engine(args).connect() as conn:
        rows = listing(conn, everything=args.all)
        known = names(conn)
    if args.json:
        print_json([{**r, "cashier": display(r["cashier"], known) or None} for r in rows])
        return 0
    for r in rows:
        decided = (f"\t{r['state']} by {r['decided_by']} {r['decided_at']:%Y-%m-%d %H:%M}"
                   f"{': ' + r['reason'] if r['reason'] else ''}" if r["state"] != "pending" else "")
        print(f"{r['id']}\t{r['at']:%Y-%m-%d %H:%M}\tcard {r['card_number']}\tbalance {r['balance']}"
              f"\t{r['phone_masked']}\t{r['device_name'] or r['device_id']}"
              f"\tcashier {display(r['cashier'], known) or '-'}"
              f"{decided}")
    if not rows:
        print("no activations wait for review" if not args.all else "no till activations yet", file=sys.stderr)
    return 0


def cmd_activations_decide(args):
    from loyalty_common.phones import mask

    from .messaging import till_activation

    engine = _engine(args)
    try:
        if args.decision == "approve":
            row = till_activation.approve(engine, args.id, by=args.by or _operator())
        else:
            row = till_activation.reject(engine, args.id, by=args.by or _operator(), reason=args.reason)
    except DomainError as e:
        print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
        return 1
    if args.decision == "approve":
        print(f"activation {args.id} approved: card {row['card_number']} is active on {mask(row['phone'])}")
        from .api.app import build_gateway

        config = ServerConfig.load(args.config)
        if "gsm_modem" in repr(config.sms):
            # The running server owns the modem's serial port; AT commands from a second process would mix.
            print("store-server: no welcome SMS: the GSM modem belongs to the running server", file=sys.stderr)
        else:
            from .messaging.sms.base import GatewayError

            # After the commit, like the API's welcome: a failed SMS never undoes the approval.
            try:
                sent = till_activation.send_welcome(engine, build_gateway(config), row)
            except GatewayError:  # a broken [sms] table
                sent = False
            if not sent:
                print("store-server: the welcome SMS could not be sent (see the message log)", file=sys.stderr)
    else:
        print(f"activation {args.id} rejected; card {row['card_number']} stays not activated")
    return 0


def _read_pin(args) -> str | None:
    if not getattr(args, "pin_stdin", False):
        return None
    return sys.stdin.readline().strip()


def cmd_cashiers_add(args):
    from . import cashiers

    def act(conn):
        cid, pin = cashiers.add(conn, args.name, secret_key=ServerConfig.load(args.config).secret_key,
                                pin=_read_pin(args), badge=args.badge, phone=args.phone)
        print(f"cashier {cid} {args.name} added" + ("" if args.pin_stdin else f"; PIN {pin}"))
    return _run(args, act)


def cmd_cashiers_list(args):
    from loyalty_common.phones import mask

    from . import cashiers

    def act(conn):
        if args.json:  # never a PIN or badge hash: only whether one is set
            return print_json([{"id": c["id"], "name": c["name"], "state": c["state"], "badge": bool(c["badge_hash"]),
                                "phone": c["phone"], "last_login_at": c["last_login_at"]}
                               for c in cashiers.listing(conn)])
        for c in cashiers.listing(conn):
            last = f"{c['last_login_at']:%Y-%m-%d %H:%M}" if c["last_login_at"] else "never"
            print(f"{c['id']}\t{c['state']}\t{c['name']}\tbadge {'yes' if c['badge_hash'] else 'no'}"
                  f"\tphone {mask(c['phone']) if c['phone'] else '-'}\tlast sign-in {last}")
    return _run(args, act)


def cmd_cashiers_state(args):
    from . import cashiers

    return _run(args, lambda conn: print(f"cashier {args.id} {cashiers.set_state(conn, args.id, args.state)['name']}: "
                                         f"{args.state}"))


def cmd_cashiers_reset_pin(args):
    from . import cashiers

    def act(conn):
        pin = cashiers.reset_pin(conn, args.id, secret_key=ServerConfig.load(args.config).secret_key,
                                 pin=_read_pin(args))
        print(f"cashier {args.id}: new PIN" + ("" if args.pin_stdin else f" {pin}"))
    return _run(args, act)


def cmd_import(args):
    import sqlalchemy.exc

    from loyalty_common.money import format_money

    from . import csv_input, shop
    from .data.db import write_transaction
    from .importer import import_customers

    try:
        source = csv_input.read(Path(args.csv).read_bytes())
    except OSError as e:
        print(f"store-server: cannot read {args.csv}: {e.strerror or e}", file=sys.stderr)
        return 2
    except csv_input.CsvInputError as e:
        print(f"store-server: {args.csv}: {e}", file=sys.stderr)
        return 2
    print(f"reading {args.csv} as {source.describe()}", file=sys.stderr)
    engine = _engine(args)

    class Refused(Exception):
        pass

    # One write transaction (SQLite's lock from BEGIN): a second import of the same cards at the same moment
    # waits, then finds them taken, instead of failing half-way on a stale snapshot.
    try:
        with write_transaction(engine) as conn:
            report = import_customers(conn, source.text, delimiter=source.delimiter, by="store-server import",
                                      progress=None if args.quiet else ProgressBar("importing"))
            if report.errors:
                raise Refused()
            total = format_money(report.balances, shop.currency(conn), "en", shop.get(conn, "country") or "")
    except Refused:
        for line, problem in report.errors:
            print(f"{args.csv}:{line}: {problem}", file=sys.stderr)
        print(f"nothing imported: {len(report.errors)} error(s) in {report.rows} row(s)", file=sys.stderr)
        return 1
    except sqlalchemy.exc.IntegrityError:  # another import or a till took a phone or card of this file meanwhile
        print(f"store-server: {args.csv}: a phone or card of this file was taken while importing; nothing "
              "imported, check the file again", file=sys.stderr)
        return 1
    print(f"{report.imported} customers imported" + (f", opening balances {total} in total" if report.balances
                                                     else ""))
    return 0


def cmd_report(args):
    from .reporting.operations_csv import operations_report, to_csv

    if args.money:
        return _money_report(args)
    if args.by not in ("day", "device", "cashier", "shop"):
        print(f"store-server: --by {args.by} needs --money (counts per type are by day, device, cashier or shop)",
              file=sys.stderr)
        return 2
    with _engine(args).connect() as conn:
        rows = operations_report(conn, args.by, since=args.since, until=args.until, shop=args.shop)
    if args.json:
        print_json(rows)
        return 0
    text = to_csv(rows, [args.by, "type", "status", "count"])
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(rows)} rows written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _money_report(args):
    """The back office's receipts-and-bonuses report (store_server/reporting, one engine for both): money and
    bonuses in minor units, the shop's days."""
    from .reporting import figures, summary
    from .reporting.operations_csv import to_csv

    engine = _engine(args)
    summary.refresh(engine)
    shop = (args.shop or [None])[0]
    with engine.connect() as conn:
        until = args.until.date() if args.until else figures.today(conn, shop)
        since = args.since.date() if args.since else until - timedelta(days=29)
        rows = figures.grouped(conn, figures.Period(since, until), args.by, shop)
    columns = [args.by, *figures.COLUMNS]
    for r in rows:
        r[args.by] = r["label"].isoformat() if hasattr(r["label"], "isoformat") else r["label"]
    if args.json:
        print_json([{c: r[c] for c in columns} for r in rows])
        return 0
    text = to_csv(rows, columns)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(rows)} rows written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_audit(args):
    """Every operation that touched a card, oldest first, with who, when, what and what it did to the ledger."""
    from sqlalchemy import select

    from . import cashiers
    from .cards import resolve
    from .data.db import devices, ledger, operations
    from .reporting.operations_csv import write_csv

    with _engine(args).connect() as conn:
        number = resolve(conn, args.card) or args.card
        ops = conn.execute(
            select(operations, devices.c.name.label("device_name"))
            .select_from(operations.outerjoin(devices, devices.c.id == operations.c.device_id))
            # Returns and cancels name a sale, not a card: their ledger rows tie them to it.
            .where(operations.c.card_number.in_({args.card, number})
                   | operations.c.id.in_(select(ledger.c.operation_id).where(ledger.c.card_number == number)))
            .order_by(operations.c.received_at)
        ).mappings().all()
        moves = conn.execute(select(ledger.c.operation_id, ledger.c.kind, ledger.c.amount)
                             .where(ledger.c.card_number == number)).all()
        known = cashiers.names(conn)
    by_op: dict[str, list[str]] = {}
    for op_id, kind, amount in moves:
        by_op.setdefault(op_id, []).append(f"{kind} {amount:+d}")
    write_csv(sys.stdout, ["at", "received_at", "id", "type", "status", "error", "device", "cashier", "ledger"],
              ([op["at"], op["received_at"], op["id"], op["type"], op["status"], op["error"] or "",
                op["device_name"] or op["device_id"], cashiers.display(op["cashier"], known),
                " ".join(by_op.get(op["id"], []))]
               for op in ops))
    print(f"# balance {sum(amount for _, _, amount in moves)}", file=sys.stderr)
    return 0


def cmd_expire(args):
    from .ledger.operations import expire_bonuses
    print(f"{expire_bonuses(_engine(args))} bonus units expired")
    return 0


def _rule_options(q, *, adding: bool) -> None:
    q.add_argument("--name", required=adding)
    amount = q.add_mutually_exclusive_group(required=adding)
    amount.add_argument("--percent", type=float, help="percent of the money paid, e.g. 10 or 2.5")
    amount.add_argument("--fixed", type=int, help="a fixed bonus in minor units per purchase")
    q.add_argument("--priority", type=int, help="0 is tried first" + (" (default 10)" if adding else ""))
    combine = q.add_mutually_exclusive_group()
    combine.add_argument("--no-combine", action="store_true", help="apply alone: stop at this rule")
    if not adding:
        combine.add_argument("--combine", action="store_true", help="add up with other rules again")
    q.add_argument("--card-type")
    q.add_argument("--weekdays", help="ISO weekday digits, 1 = Monday: 12345 for working days")
    q.add_argument("--from", dest="time_from", help="local time HH:MM the window opens")
    q.add_argument("--to", dest="time_to", help="local time HH:MM the window closes")
    if not adding:
        q.add_argument("--all-day", action="store_true", help="drop the time window")
    q.add_argument("--valid-from", type=date.fromisoformat)
    q.add_argument("--valid-to", type=date.fromisoformat)
    q.add_argument("--shop", action="append", help="only in this shop (repeat for several; default: every shop)")
    if not adding:
        q.add_argument("--chain", action="store_true", help="in every shop again")


def add_commands(sub) -> None:
    p = sub.add_parser("cards", help="card types, ranges, states, extra numbers")
    cs = p.add_subparsers(dest="cards_command", required=True)
    q = cs.add_parser("issue", help="create a range of pre-printed cards, e.g. 10001 20000")
    q.add_argument("first", type=int)
    q.add_argument("last", type=int)
    q.add_argument("--type", default="standard", help="card type (default: standard, a bonus card)")
    q.add_argument("--ean13-prefix", help="make EAN-13 numbers: this prefix, the number zero-padded, a check digit")
    q.add_argument("--activation-codes", metavar="CSV",
                   help="protect the range with activation codes printed on the cards; writes number,code to CSV")
    q.add_argument("--shop", metavar="CODE", help="issue the range for this shop: its numbers are checked against "
                                                  "and printed in this shop's card_rules instead of the chain's (the "
                                                  "cards are the chain's either way)")
    q.set_defaults(func=cmd_cards_issue)
    q = cs.add_parser("export-codes", help="new activation codes for the range's cards not yet activated (a "
                                           "re-print: earlier codes stop working), written to a CSV")
    q.add_argument("first", type=int)
    q.add_argument("last", type=int)
    q.add_argument("--ean13-prefix")
    q.add_argument("--out", required=True, help="the CSV for the card printer (created readable by you only)")
    q.set_defaults(func=cmd_cards_export_codes)
    q = cs.add_parser("type", help="create a card type")
    q.add_argument("name")
    q.add_argument("--kind", choices=["bonus", "discount"], required=True)
    q.add_argument("--discount", type=int, default=0, help="percent, for discount cards")
    q.set_defaults(func=cmd_cards_type)
    for name, state in (("block", "blocked"), ("unblock", "active")):
        q = cs.add_parser(name, help=f"{name} a card")
        q.add_argument("number")
        q.set_defaults(func=cmd_cards_state, state=state)
    q = cs.add_parser("add-number", help="let another number (old card, key fob) mean this card")
    q.add_argument("card")
    q.add_argument("extra")
    q.set_defaults(func=cmd_cards_number)

    p = sub.add_parser("rules", help="accrual rules")
    rs = p.add_subparsers(dest="rules_command", required=True)
    q = rs.add_parser("add", help="add a rule, e.g. --name morning --percent 20 --priority 0 --no-combine "
                                  "--from 9:00 --to 11:00")
    _rule_options(q, adding=True)
    q.set_defaults(func=cmd_rules_add)
    q = rs.add_parser("list", help="enabled rules in the order they are tried (--all: disabled ones too)")
    q.add_argument("--all", action="store_true")
    q.set_defaults(func=cmd_rules_list)
    q = rs.add_parser("edit", help="change a rule's options given here (one step: a sale uses the old or the new "
                                   "rule, never half of each), e.g. 2 --percent 15")
    q.add_argument("id", type=int)
    _rule_options(q, adding=False)
    q.set_defaults(func=cmd_rules_edit)
    for change, text in (("enable", "the rule earns again"), ("disable", "the rule stops earning, it stays listed"),
                         ("delete", "the rule stops earning and leaves the list; its history stays")):
        q = rs.add_parser(change, help=text)
        q.add_argument("id", type=int)
        q.set_defaults(func=cmd_rules_change, change=change)

    p = sub.add_parser("tiers", help="customer tiers by turnover")
    ts = p.add_subparsers(dest="tiers_command", required=True)
    q = ts.add_parser("add")
    q.add_argument("--name", required=True)
    q.add_argument("--min-turnover", type=int, required=True, help="money paid over the period, minor units")
    q.add_argument("--percent", type=float, required=True, help="extra accrual of this tier, percent")
    q.add_argument("--shop", action="append", help="its extra accrual only in this shop (repeat for several)")
    q.set_defaults(func=cmd_tiers_add)
    ts.add_parser("list").set_defaults(func=cmd_tiers_list)
    q = ts.add_parser("delete", help="the tier stops counting; its history stays")
    q.add_argument("name")
    q.set_defaults(func=cmd_tiers_delete)

    p = sub.add_parser("devices", help="enrolled devices")
    ds = p.add_subparsers(dest="devices_command", required=True)
    ds.add_parser("list").set_defaults(func=cmd_devices_list)
    from .shops_cli import add_device_commands

    add_device_commands(ds)
    q = ds.add_parser("revoke", help="the device's key stops working at once")
    q.add_argument("device_id")
    q.set_defaults(func=cmd_devices_revoke)
    q = ds.add_parser("till-activation", help="this till's right to activate cards, over the shop setting")
    q.add_argument("device_id")
    q.add_argument("mode", choices=["direct", "review", "off", "shop"],
                   help="direct: at once; review: an operator approves; off: refused; shop: as the shop setting")
    q.set_defaults(func=cmd_devices_till_activation)

    p = sub.add_parser("activations", help="card activations made at tills that wait for review")
    acts = p.add_subparsers(dest="activations_command", required=True)
    q = acts.add_parser("list", help="pending activations (with --all: decided ones too)")
    q.add_argument("--all", action="store_true")
    q.set_defaults(func=cmd_activations_list)
    q = acts.add_parser("approve", help="bind phone and card now, as a direct activation would")
    q.add_argument("id", type=int)
    q.add_argument("--by", help="who decides, for the audit (default: the login name)")
    q.set_defaults(func=cmd_activations_decide, decision="approve")
    q = acts.add_parser("reject", help="the card stays not activated; the reason is recorded")
    q.add_argument("id", type=int)
    q.add_argument("--reason", required=True)
    q.add_argument("--by", help="who decides, for the audit (default: the login name)")
    q.set_defaults(func=cmd_activations_decide, decision="reject")

    p = sub.add_parser("cashiers", help="the shop's cashiers: PINs and badges that sign them in at a till")
    cs = p.add_subparsers(dest="cashiers_command", required=True)
    q = cs.add_parser("add", help="add a cashier; prints a new 6-digit PIN unless --pin-stdin")
    q.add_argument("name")
    q.add_argument("--pin-stdin", action="store_true", help="read the PIN (4-8 digits) from standard input")
    q.add_argument("--badge", help="the code printed on the cashier's staff badge")
    q.add_argument("--phone", help="the cashier's own phone (the fraud report looks for it on customers' cards)")
    q.set_defaults(func=cmd_cashiers_add)
    cs.add_parser("list").set_defaults(func=cmd_cashiers_list)
    for name, state in (("block", "blocked"), ("unblock", "active")):
        q = cs.add_parser(name, help=f"{name} a cashier (a blocked one cannot sign in or book)")
        q.add_argument("id")
        q.set_defaults(func=cmd_cashiers_state, state=state)
    q = cs.add_parser("reset-pin", help="a new PIN (printed unless --pin-stdin); clears nothing else")
    q.add_argument("id")
    q.add_argument("--pin-stdin", action="store_true")
    q.set_defaults(func=cmd_cashiers_reset_pin)

    from .settings_schema import GROUPS

    p = sub.add_parser("settings", help="shop settings: list them, set one (checked by its type), reset one",
                       description="The shop's settings, kept in the database (devices pick changes up on their "
                                   "next sync). docs/server.md lists them.")
    ss = p.add_subparsers(dest="settings_command", required=True)
    q = ss.add_parser("set", help="set KEY to VALUE, checked by the key's type",
                      description="VALUE is plain text, a number, yes/no, a comma-separated list or none; maps "
                                  "are JSON. A value that does not fit is refused with the reason and nothing "
                                  "changes. Examples: settings set public_name My Shop; settings set "
                                  "languages uk,en; settings set no_code_limit 500; settings set code_required "
                                  "'{\"redeem\": true, \"return\": false}'; settings set bonus_expiry_days none")
    q.add_argument("key")
    q.add_argument("value", nargs="+", help="the value (words are joined with spaces: My Shop)")
    q.add_argument("--shop", help="set it for this shop only (a per-shop setting); other shops keep the chain's")
    q.set_defaults(func=cmd_settings_set)
    q = ss.add_parser("reset", help="put KEY back to its default (with --shop: to the chain's value)",
                      description="Example: settings reset otp; settings reset --shop KYIV2 public_name")
    q.add_argument("key")
    q.add_argument("--shop", help="this shop follows the chain's value again")
    q.set_defaults(func=cmd_settings_reset)
    for name in ("list", "show"):
        q = ss.add_parser(name, help="every setting: value, default, type and meaning, by group" if name == "list"
                          else "the same as list", description="Example: settings list --group codes --json")
        q.add_argument("--group", choices=list(GROUPS))
        q.add_argument("--json", action="store_true", help="as JSON: key, group, type, value, default, ...")
        q.add_argument("--shop", help="the per-shop settings as this shop sees them, its own ones marked")
        q.set_defaults(func=cmd_settings_list)

    p = sub.add_parser("import-customers", help="import customers from CSV (all rows or none)",
                       description="Columns phone, card_number (required), name, extra_numbers, consent, "
                                   "marketing, balance (the old system's bonuses, booked as opening balances) "
                                   "and questionnaire keys. The encoding (UTF-8 with or without BOM, "
                                   "UTF-16, Windows-1251) and the delimiter (comma, semicolon, tab) are found from "
                                   "the file and named. Every row is checked first; with any error nothing is "
                                   "imported. Example: store-server import-customers customers.csv")
    p.add_argument("csv")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("report", help="operations per day, device, cashier or shop as CSV")
    p.add_argument("--by", choices=["day", "week", "month", "device", "cashier", "card_type", "tier", "shop"],
                   default="day", help="day: each shop's own days (its time zone); shop: per shop code (empty: the "
                   "back office); week, month, card_type, tier with --money")
    p.add_argument("--money", action="store_true", help="receipts, revenue and bonuses (minor units) as the back "
                   "office's reports show them, instead of counts per operation type")
    p.add_argument("--shop", action="append", help="only this shop's operations (repeat for several)")
    p.add_argument("--since", type=datetime.fromisoformat)
    p.add_argument("--until", type=datetime.fromisoformat)
    p.add_argument("--out", help="CSV file (default: standard output)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("audit", help="every operation of a card: when, device, cashier, result, ledger rows")
    p.add_argument("card")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("expire", help="write off bonuses older than the shop's bonus_expiry_days")
    p.set_defaults(func=cmd_expire)
