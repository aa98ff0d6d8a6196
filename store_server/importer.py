"""Customer import from CSV: every row checked first, errors reported by line, then all rows or none.

Columns: phone (required), card_number (required), name, extra_numbers (separated by spaces or ";"),
consent, marketing (1/0, yes/no, true/false), balance (the bonuses the customer had in the old system, in the
shop's money: 125.50 or 125,50), and one column per questionnaire field key.

An opening balance is booked as an "opening" operation through operations.apply_one, like a till's sale: it is
in the journal with who imported it, and its ledger row is the card's first. One engine for the command line
(`store-server import`) and the back office's import page (store_server/admin/routes/imports.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from loyalty_common.cards import WHY, read_number
from loyalty_common.money import parse_minor
from loyalty_common.phones import InvalidPhone, normalise

from . import card_formats, clock, customers, shop
from .data.db import card_numbers, cards
from .data.db import customers as customers_table
from .errors import DomainError

MAX_BALANCE = 10**12  # minor units, as operations.MAX_AMOUNT
# Yes and no as the shops' spreadsheets write them, in each of the product's languages too.
BOOLS = {"1": True, "yes": True, "true": True, "y": True, "0": False, "no": False, "false": False, "n": False,
         "": False, "так": True, "ні": False, "да": True, "нет": False, "иә": True, "жоқ": False, "có": True,
         "không": False}


class Problem(str):
    """What is wrong with a line: the English sentence the command line prints, and a code with its values for
    the back office, which words it in the reader's language (store_server/admin/messages.py IMPORT_PROBLEMS)."""

    code: str
    values: dict

    def __new__(cls, code: str, english: str, **values: object) -> Problem:
        problem = super().__new__(cls, english.format(**values))
        problem.code, problem.values = code, values
        return problem


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    balances: int = 0  # opening balances booked, minor units
    errors: list[tuple[int, Problem]] = field(default_factory=list)


def _parse(conn: Connection, text: str, report: ImportReport, delimiter: str = ",") -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if not reader.fieldnames or not {"phone", "card_number"} <= set(reader.fieldnames):
        found = ", ".join(reader.fieldnames or []) or "nothing"
        report.errors.append((1, Problem("bad_header", "the header must name at least the columns phone and "
                                                      "card_number (found: {found})", found=found[:200])))
        return []
    country = shop.get(conn, "country")
    questions = {f["key"]: f for f in shop.get(conn, "questionnaire") or []}
    known = {"phone", "card_number", "name", "extra_numbers", "consent", "marketing", "balance", *questions}
    currency = shop.currency(conn)
    rules = card_formats.rules_for(conn)  # the chain's card numbers: a legacy file may print "LK10001"
    unknown = [c for c in reader.fieldnames if c not in known]
    if unknown:
        report.errors.append((1, Problem("unknown_columns", "unknown column(s): {columns}",
                                         columns=", ".join(unknown))))
        return []
    seen_phones: dict[str, int] = {}
    seen_numbers: dict[str, int] = {}
    rows = []
    for row in reader:
        line = reader.line_num
        report.rows += 1
        problems = []
        try:
            phone = normalise((row["phone"] or "").strip(), country)
        except InvalidPhone as e:
            phone = None
            problems.append(Problem("bad_phone", "phone {value!r}: {detail}", value=row["phone"], detail=str(e)))
        number = (row["card_number"] or "").strip()
        if rules is not None and number and not conn.execute(
                select(cards.c.number).where(cards.c.number == number)).first():
            card, reason = read_number(number, rules)
            if card is None:
                problems.append(Problem("card_format", "card {card} is not a card number of this shop: {why} "
                                        "(card_rules: {format})", card=number, why=WHY[reason],
                                        format=rules.describe()))
            else:
                number = card  # as the kiosk reads the printed card: "LK10001" -> "10001"
        extras = [n for n in (row.get("extra_numbers") or "").replace(";", " ").split() if n]
        if phone in seen_phones:
            problems.append(Problem("phone_twice", "phone {phone} also on line {other}", phone=phone,
                                    other=seen_phones[phone]))
        for n in [number, *extras]:
            if n in seen_numbers:
                problems.append(Problem("card_twice", "card number {card} also on line {other}", card=n,
                                        other=seen_numbers[n]))
        answers = {k: row[k] for k in questions if row.get(k)}
        for k, v in answers.items():
            try:
                answers[k] = customers.clean_answer(questions[k], v)
            except DomainError as e:
                # clean_answer's message already starts with the column ("pet: one of cat, dog is expected").
                problems.append(Problem("bad_answer", "{detail}", column=k, value=v, detail=e.message))
        flags = {}
        for k in ("consent", "marketing"):
            raw = (row.get(k) or "").strip().lower()
            if raw not in BOOLS:
                problems.append(Problem("bad_yes_no", "{column} must be yes or no, not {value!r}", column=k, value=raw))
            flags[k] = BOOLS.get(raw, False)
        balance = 0
        if (row.get("balance") or "").strip():
            try:
                balance = parse_minor(row["balance"], currency)
            except ValueError as e:
                problems.append(Problem("bad_balance", "balance {value!r}: {detail}", value=row["balance"],
                                        detail=str(e)))
            if balance < 0:
                problems.append(Problem("negative_balance", "balance {value!r}: an opening balance cannot be negative",
                                        value=row["balance"]))
            elif balance > MAX_BALANCE:
                problems.append(Problem("huge_balance", "balance {value!r} is more than any card can hold",
                                        value=row["balance"]))
        problems += _check_against_db(conn, phone, number, extras)
        if problems:
            report.errors += [(line, p) for p in problems]
        if phone:
            seen_phones.setdefault(phone, line)
        for n in [number, *extras]:
            seen_numbers.setdefault(n, line)
        rows.append(dict(line=line, phone=phone, number=number, extras=extras, name=(row.get("name") or "").strip(),
                         answers=answers, balance=balance, **flags))
    return rows


def _check_against_db(conn: Connection, phone: str | None, number: str, extras: list[str]) -> list[str]:
    problems = []
    card = conn.execute(select(cards.c.state, cards.c.customer_id).where(cards.c.number == number)).first()
    if not number:
        problems.append(Problem("no_card", "card_number is empty"))
    elif card is None:
        problems.append(Problem("unknown_card", "card {card} does not exist; issue its range first", card=number))
    elif card.state != "issued":
        problems.append(Problem("card_not_free", "card {card} is {state}, not a free issued card", card=number,
                                state=card.state))
    if phone and conn.execute(select(customers_table.c.id).where(customers_table.c.phone == phone)).first():
        problems.append(Problem("known_phone", "phone {phone} is already a customer", phone=phone))
    for n in extras:
        if len(n) > 32:
            problems.append(Problem("long_extra", "extra number {card}… is longer than 32 characters", card=n[:40]))
        elif conn.execute(select(cards.c.number).where(cards.c.number == n)).first() or \
                conn.execute(select(card_numbers.c.number).where(card_numbers.c.number == n)).first():
            problems.append(Problem("extra_taken", "extra number {card} is already a card number", card=n))
    return problems


def check(conn: Connection, text: str, *, delimiter: str = ",") -> tuple[ImportReport, list[dict]]:
    """Every row checked, nothing written: the rows as they would be imported and the problems by line."""
    report = ImportReport()
    return report, _parse(conn, text, report, delimiter)


def import_customers(conn: Connection, text: str, *, delimiter: str = ",", by: str = "import",
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Runs inside the caller's transaction: with any error nothing is written (the caller rolls back).

    `text` is already decoded; store_server/csv_input.py finds a file's encoding and delimiter. `by` is who
    imports (recorded as the opening operations' cashier). A row that turns out wrong only while writing (a
    card another import or a till took meanwhile) is reported like a checked one, and the caller rolls back."""
    import uuid

    from .ledger.operations import ADMIN_DEVICE, apply_one

    report = ImportReport()
    rows = _parse(conn, text, report, delimiter)
    if report.errors:
        return report
    now = clock.now()
    for i, r in enumerate(rows, 1):
        customer_id = conn.execute(insert(customers_table).values(
            phone=r["phone"], name=r["name"] or None, created_at=now, consent_at=now if r["consent"] else None,
            marketing_opt_in=r["marketing"], marketing_opt_in_at=now if r["marketing"] else None,
        )).inserted_primary_key[0]
        # Only a card that is still free: between the check and now a till may have activated it, or another
        # import of the same file may have committed (then nothing of this one may stay).
        taken = conn.execute(update(cards).where(cards.c.number == r["number"], cards.c.state == "issued").values(
            state="active", customer_id=customer_id, activated_at=now)).rowcount != 1
        if taken:
            report.errors.append((r["line"], Problem("card_taken", "card {card} was activated meanwhile",
                                                      card=r["number"])))
            return report
        if r["balance"]:
            result = apply_one(conn, {"id": str(uuid.uuid4()), "type": "opening", "at": now, "cashier": by[:64],
                                      "payload": {"card_number": r["number"], "amount": r["balance"],
                                                  "source": "import"}}, ADMIN_DEVICE)
            if result["status"] != "applied":
                report.errors.append((r["line"], Problem("opening_refused", "opening balance refused: {detail}",
                                                          detail=result["message"])))
                return report
            report.balances += r["balance"]
        for n in r["extras"]:
            conn.execute(insert(card_numbers).values(number=n, card_number=r["number"], added_at=now))
        if r["answers"]:
            customers.save_answers(conn, customer_id, r["answers"], shop.get(conn, "questionnaire"), at=now)
        report.imported += 1
        if progress:
            progress(i, len(rows))
    return report
