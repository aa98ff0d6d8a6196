"""`store-server admin ...`: back-office accounts from the shell (the first owner is made here)."""

from __future__ import annotations

import argparse
import getpass
import sys

from ..data.db import write_transaction
from ..errors import DomainError


def _password(args: argparse.Namespace) -> str | None:
    """Typed twice on a terminal; one line on stdin otherwise (for scripts: `echo ... | store-server admin add`)."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            print("store-server: the two passwords differ", file=sys.stderr)
            return None
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_add(args: argparse.Namespace) -> int:
    from ..admin_cli import _engine
    from . import accounts, audit

    password = _password(args)
    if password is None:
        return 1
    try:
        with write_transaction(_engine(args)) as conn:
            accounts.create(conn, args.name, args.role, password)
            if args.shop:
                accounts.set_shops(conn, args.name, args.shop)
            audit.record(conn, account="(shell)", action="account_created", target=args.name,
                         details={"role": args.role, **({"shops": args.shop} if args.shop else {})})
    except DomainError as e:
        print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
        return 1
    print(f"account {args.name} ({args.role}) created; sign in at /admin/")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ..admin_cli import _engine
    from . import accounts

    with _engine(args).connect() as conn:
        if args.json:
            from ..admin_cli import print_json

            print_json([{"name": a["name"], "role": a["role"], "locked_until": a["locked_until"],
                         "shops": a["shops"]} for a in accounts.listing(conn)])
            return 0
        for a in accounts.listing(conn):
            locked = f"\tlocked until {a['locked_until']:%Y-%m-%d %H:%M}" if a["locked_until"] else ""
            shops = f"\tshops {','.join(a['shops'])}" if a["shops"] else ""
            print(f"{a['name']}\t{a['role']}{locked}{shops}")
    return 0


def cmd_password(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from ..admin_cli import _engine
    from ..data.db import admin_accounts
    from . import accounts, audit

    password = _password(args)
    if password is None:
        return 1
    try:
        with write_transaction(_engine(args)) as conn:
            account_id = conn.execute(select(admin_accounts.c.id).where(admin_accounts.c.name == args.name)).scalar()
            if account_id is None:
                raise DomainError("account_not_found", f"no account {args.name!r}")
            accounts.set_password(conn, account_id, password)
            audit.record(conn, account="(shell)", action="password_changed", target=args.name)
    except DomainError as e:
        print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
        return 1
    print(f"password of {args.name} set; its sessions were signed out")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from ..admin_cli import _engine
    from . import accounts, audit

    try:
        with write_transaction(_engine(args)) as conn:
            accounts.unlock(conn, args.name)
            audit.record(conn, account="(shell)", action="account_unlocked", target=args.name)
    except DomainError as e:
        print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
        return 1
    print(f"account {args.name} unlocked")
    return 0


def cmd_shops(args: argparse.Namespace) -> int:
    from ..admin_cli import _engine
    from . import accounts, audit

    codes = None if args.all else args.codes
    if not codes and not args.all:
        print("store-server: name the shops (admin shops NAME KYIV1 KYIV2) or --all", file=sys.stderr)
        return 2
    try:
        with write_transaction(_engine(args)) as conn:
            accounts.set_shops(conn, args.name, codes)
            audit.record(conn, account="(shell)", action="account_shops_set", target=args.name,
                         details={"shops": codes})
    except DomainError as e:
        print(f"store-server: {e.message} ({e.code})", file=sys.stderr)
        return 1
    print(f"account {args.name} sees {'every shop' if not codes else 'shops ' + ', '.join(sorted(set(codes)))}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("admin", help="back-office accounts (the web pages under /admin/)")
    s = p.add_subparsers(dest="admin_command", required=True)
    q = s.add_parser("add", help="create an account; the password is typed twice (or one line on stdin)")
    q.add_argument("name")
    q.add_argument("--role", choices=["owner", "operator"], required=True,
                   help="owner: everything; operator: customers and activations, no money, devices or accounts")
    q.add_argument("--shop", action="append", help="an operator sees only this shop's journal, activations, "
                                                   "SMS log (repeat for several; default: every shop)")
    q.set_defaults(func=cmd_add)
    q = s.add_parser("shops", help="limit an operator to some shops' journal, activations, SMS log and reports, "
                                   "or --all")
    q.add_argument("name")
    q.add_argument("codes", nargs="*", metavar="CODE")
    q.add_argument("--all", action="store_true", help="every shop of the chain")
    q.set_defaults(func=cmd_shops)
    s.add_parser("list", help="accounts and their roles").set_defaults(func=cmd_list)
    q = s.add_parser("password", help="set an account's password (signs its sessions out)")
    q.add_argument("name")
    q.set_defaults(func=cmd_password)
    q = s.add_parser("unlock", help="lift a lockout after wrong passwords")
    q.add_argument("name")
    q.set_defaults(func=cmd_unlock)
