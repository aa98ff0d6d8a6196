"""`store-server shops ...`: the chain's shops (store_server/shops.py), and `--shop` on settings and devices."""

from __future__ import annotations

import argparse
import json

from .admin_cli import _run, print_json


def _names(pairs: list[str] | None) -> dict | None:
    """--public-name uk=Кавун --public-name en=Kavun -> {"uk": "Кавун", "en": "Kavun"}; `uk=` drops one."""
    if not pairs:
        return None
    names = {}
    for pair in pairs:
        lang, sep, name = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--public-name {pair!r}: write LANG=NAME, e.g. uk=Кавун")
        names[lang.strip()] = name.strip()
    return names


def cmd_shops_add(args):
    from . import shops

    def act(conn):
        row = shops.add(conn, args.code, name=args.name, timezone=args.timezone, country=args.country,
                        public_names=_names(args.public_name))
        print(f"shop {row['code']} added: {row['name']}, {row['timezone']}, {row['country']}")
    return _run(args, act)


def cmd_shops_edit(args):
    from . import shops

    def act(conn):
        columns = {}
        for key in shops.COLUMNS:
            value = getattr(args, key)
            if value is not None:
                columns[key] = None if value.lower() == "chain" else value
        row = shops.edit(conn, args.code, name=args.name, public_names=_names(args.public_name), **columns)
        print(f"shop {row['code']}: {row['name']}, {row['timezone'] or 'the chain’s time zone'}, "
              f"{row['country'] or 'the chain’s country'}")
    return _run(args, act)


def cmd_shops_list(args):
    from . import shops
    from .config import ServerConfig
    from .messaging.sms.registry import serving

    def act(conn):
        rows = shops.listing(conn)
        # which gateways send each shop's customers their SMS
        sms = serving(ServerConfig.load(args.config).sms, [r["code"] for r in rows])
        rows = [{**r, "sms": sms[r["code"]]} for r in rows]
        if args.json:
            return print_json(rows)
        for r in rows:
            names = ", ".join(f"{k}={v}" for k, v in sorted(r["public_names"].items()))
            own = f"\t{len(r['settings'])} own setting(s)" if r["settings"] else ""
            gateways = f"SMS: {r['sms']['gateways']} ({'own' if r['sms']['own'] else 'chain'})"
            print(f"{r['code']}\t{r['name']}\t{r['timezone'] or '(chain time zone)'}\t"
                  f"{r['country'] or '(chain country)'}\t{r['devices']} device(s)\t{gateways}{own}"
                  + (f"\t{names}" if names else ""))
    return _run(args, act)


def cmd_devices_move(args):
    from . import devices

    return _run(args, lambda conn: (devices.move(conn, args.device_id, args.shop),
                                    print(f"device {args.device_id} now in shop {args.shop} "
                                          "(running servers see it within device_auth_cache_seconds)")))


def cmd_shop_settings(args):
    """settings set/reset/list with --shop: the shop's own values over the chain's."""
    from . import settings_schema, shops

    def act(conn):
        if args.settings_command == "set":
            value = shops.set_setting(conn, args.shop, args.key, settings_schema.parse(args.key, " ".join(args.value)))
            print(f"{args.key} = {settings_schema.plain(value)} in shop {args.shop}")
        elif args.settings_command == "reset":
            shops.reset_setting(conn, args.shop, args.key)
            print(f"{args.key} in shop {args.shop} = the chain's "
                  f"({settings_schema.plain(shops.setting(conn, args.shop, args.key))})")
        else:
            own, resolved = shops.own_settings(conn, args.shop), shops.resolve(conn, args.shop)
            rows = [{**r, "value": resolved[r["key"]], "own": r["key"] in own}
                    for r in settings_schema.listing({}) if r["per_shop"]]
            if args.group:
                rows = [r for r in rows if r["group"] == args.group]
            if args.json:
                print(json.dumps(rows, ensure_ascii=False, indent=2))
                return
            for r in rows:
                where = "(this shop)" if r["own"] else "(the chain's)"
                print(f"{r['key']} = {settings_schema.plain(r['value'])}  {where}")
    return _run(args, act)


def add_commands(sub) -> None:
    p = sub.add_parser("shops", help="the chain's shops: add one, list them, edit one",
                       description="Customers, cards and balances are the chain's; each device belongs to a shop "
                                   "and each operation records its shop. A shop has its own time zone, country, "
                                   "public names and any per-shop setting (settings set --shop CODE ...). "
                                   "Example: store-server shops add KYIV2 --name \"Kyiv, Podil\" "
                                   "--timezone Europe/Kyiv --country UA --public-name uk=\"Кавун на Подолі\"")
    ss = p.add_subparsers(dest="shops_command", required=True)
    q = ss.add_parser("add", help="add a shop")
    q.add_argument("code", help="1-32 letters, digits, - or _: what you type in --shop, e.g. KYIV2")
    q.add_argument("--name", required=True, help="the shop's name in lists and reports")
    q.add_argument("--timezone", required=True, help="e.g. Europe/Kyiv: its rule windows, report days, receipts")
    q.add_argument("--country", required=True, help="ISO 3166 code: how its customers' phones are read, e.g. UA")
    q.add_argument("--public-name", action="append", metavar="LANG=NAME",
                   help="the name customers see in one language (repeat per language; default: the chain's)")
    q.set_defaults(func=cmd_shops_add)
    q = ss.add_parser("edit", help="change a shop's name, time zone, country or public names",
                      description="Only what is given changes. --timezone chain / --country chain make the shop "
                                  "follow the chain's setting; --public-name uk= drops one language's name.")
    q.add_argument("code")
    q.add_argument("--name")
    q.add_argument("--timezone")
    q.add_argument("--country")
    q.add_argument("--public-name", action="append", metavar="LANG=NAME")
    q.set_defaults(func=cmd_shops_edit)
    q = ss.add_parser("list", help="every shop: code, name, time zone, country, devices, own settings")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_shops_list)


def add_device_commands(ds) -> None:
    q = ds.add_parser("move", help="the device works in another shop from now on (its past stays where it was)")
    q.add_argument("device_id")
    q.add_argument("shop")
    q.set_defaults(func=cmd_devices_move)
