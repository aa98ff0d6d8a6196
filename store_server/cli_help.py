"""What `store-server COMMAND --help` says besides the options: a description and an example for every command,
and --json on the commands that list or report. One table, so a new command gets its example in one line
(tests/server/test_cli_conventions.py fails for a command without one)."""

from __future__ import annotations

import argparse

EXAMPLES = {
    "init": "store-server --config /etc/store-server/server.toml init --data-dir /var/lib/store-server "
            "--shop-name Kavun --country UA --languages uk,en",
    "upgrade": "store-server upgrade",
    "serve": "store-server serve --host 0.0.0.0 --port 8700",
    "enrolment-token": "store-server enrolment-token --role entrance --server-url https://loyalty.shop.example",
    "fraud-report": "store-server fraud-report --days 7 --json",
    "sms-status": "store-server sms-status --limit 100",
    "clock-report": "store-server clock-report --days 7",
    "cards issue": "store-server cards issue 10001 20000 --type standard",
    "cards export-codes": "store-server cards export-codes 10001 20000 --out codes.csv",
    "cards type": "store-server cards type gold --kind discount --discount 5",
    "cards block": "store-server cards block 10042",
    "cards unblock": "store-server cards unblock 10042",
    "cards add-number": "store-server cards add-number 10042 OLD-7731",
    "rules add": "store-server rules add --name morning --percent 20 --priority 0 --no-combine --from 9:00 --to 11:00",
    "rules list": "store-server rules list --all --json",
    "rules edit": "store-server rules edit 2 --percent 15 --all-day",
    "rules enable": "store-server rules enable 2",
    "rules disable": "store-server rules disable 2",
    "rules delete": "store-server rules delete 2",
    "tiers add": "store-server tiers add --name gold --min-turnover 1000000 --percent 5",
    "tiers list": "store-server tiers list",
    "tiers delete": "store-server tiers delete gold",
    "devices list": "store-server devices list --json",
    "devices revoke": "store-server devices revoke 3f1c2a9e-...",
    "devices till-activation": "store-server devices till-activation 3f1c2a9e-... review",
    "activations list": "store-server activations list --all --json",
    "activations approve": "store-server activations approve 12",
    "activations reject": "store-server activations reject 12 --reason \"phone not confirmed in person\"",
    "cashiers add": "store-server cashiers add Olga --badge STAFF-0042",
    "cashiers list": "store-server cashiers list",
    "cashiers block": "store-server cashiers block 3",
    "cashiers unblock": "store-server cashiers unblock 3",
    "cashiers reset-pin": "store-server cashiers reset-pin 3",
    "settings set": "store-server settings set languages uk,en",
    "settings reset": "store-server settings reset otp",
    "settings list": "store-server settings list --group codes",
    "settings show": "store-server settings show --json",
    "import-customers": "store-server import-customers customers.csv",
    "report": "store-server report --by cashier --since 2026-11-01 --out november.csv",
    "audit": "store-server audit 10042",
    "expire": "store-server expire",
    "admin add": "store-server admin add owner --role owner",
    "admin list": "store-server admin list",
    "admin password": "store-server admin password owner",
    "admin unlock": "store-server admin unlock owner",
    "backup": "store-server backup --keep-days 14",
    "restore": "store-server restore /var/lib/store-server/backups/store-20261126-030000.db",
    "move": "store-server move --to postgresql+psycopg://shop@db.local/loyalty",
    "shops add": "store-server shops add ALA1 --name \"Almaty, Abay 10\" --timezone Asia/Almaty --country KZ "
                 "--public-name kk=Қауын",
    "shops edit": "store-server shops edit ALA1 --public-name ru=\"Кавун Алматы\" --timezone chain",
    "shops list": "store-server shops list --json",
    "devices move": "store-server devices move 3f1c2a9e-... ALA1",
    "admin shops": "store-server admin shops aigerim ALA1 ALA2",
}
# For commands registered without a help line.
DESCRIPTIONS = {
    "rules list": "Every enabled accrual rule (--all: disabled ones too): id, priority, value, alone or combined, "
                  "time window, days, card type, name.",
    "tiers add": "Add a customer tier: customers whose turnover over tier_period_days reaches --min-turnover "
                 "get --percent more.",
    "tiers list": "The tiers, highest first: name, turnover from which it applies, extra accrual.",
    "devices list": "Enrolled devices: id, role, active or revoked, name, a till's own activation right, and its "
                    "shop.",
    "cashiers list": "The shop's cashiers: id, name, state, badge and phone set or not.",
    "admin list": "The back office's accounts and their roles.",
}
# Commands that list or report: --json prints the same rows as JSON (phones masked, times ISO 8601).
JSON_COMMANDS = ("rules list", "tiers list", "devices list", "activations list", "cashiers list", "admin list",
                 "report", "fraud-report", "shops list")


def leaves(parser: argparse.ArgumentParser, prefix: str = ""):
    """(full command name, its parser, its help line) for every command that runs something."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from leaves(sub, full)
                else:
                    yield full, sub, helps.get(name)


def finish(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    for full, sub, help_line in leaves(parser):
        if not sub.description and full in DESCRIPTIONS:
            sub.description = DESCRIPTIONS[full]
        elif not sub.description and help_line:
            sub.description = help_line[0].upper() + help_line[1:] + "."
        example = EXAMPLES.get(full)
        if example and "xample" not in (sub.description or ""):
            sub.epilog = f"Example: {example}"
        if full in JSON_COMMANDS and not any("--json" in a.option_strings for a in sub._actions):
            sub.add_argument("--json", action="store_true", help="print the rows as JSON (phones masked)")
    return parser
