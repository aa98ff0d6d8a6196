"""Two imports of files naming the same cards, started at the same moment as real `store-server import`
processes on one database (SQLite, and PostgreSQL with KIOSK_TEST_PG=1): one file is imported whole, the other
refused whole, and every card has its opening balance booked exactly once.

What keeps it so: the import's one write transaction, the card taken only while still issued, and an opening
operation refused on a card that already has ledger rows (checked under the card's row lock)."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from store_server import shop
from store_server.cards import issue_range
from store_server.data.db import create_schema, customers, ledger, make_engine

ROWS = 300
ROUNDS = 2


def write_file(path, first_card: int, phone_prefix: str, cents: int) -> int:
    lines = ["phone,card_number,balance"]
    lines += [f"{phone_prefix}{n:04d},{first_card + n},{n}.{cents:02d}" for n in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(n * 100 + cents for n in range(ROWS))


def test_two_imports_of_the_same_cards_at_once_book_each_opening_balance_once(database_url, tmp_path):
    engine = make_engine(database_url)
    create_schema(engine)
    with engine.begin() as conn:
        shop.seed_demo(conn)
        issue_range(conn, 30000, 30000 + ROUNDS * ROWS)
    config = tmp_path / "server.toml"
    config.write_text(f'data_dir = "{tmp_path}"\ndatabase_url = "{database_url}"\n', encoding="utf-8")
    for round_ in range(ROUNDS):
        first = 30000 + round_ * ROWS
        totals = [write_file(tmp_path / f"a{round_}.csv", first, f"+3805033{round_}", 10),
                  write_file(tmp_path / f"b{round_}.csv", first, f"+3805044{round_}", 20)]
        procs = [subprocess.Popen([sys.executable, "-m", "store_server.cli", "--config", str(config),
                                   "import-customers", "--quiet", str(tmp_path / f"{name}{round_}.csv")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in ("a", "b")]
        outcomes = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        codes = sorted(code for code, _out, _err in outcomes)
        assert codes == [0, 1], outcomes
        assert all("Traceback" not in err for _code, _out, err in outcomes), outcomes
        winner = next(i for i, (code, _out, _err) in enumerate(outcomes) if code == 0)
        cards = [str(first + n) for n in range(ROWS)]
        with engine.connect() as conn:
            per_card = dict(conn.execute(select(ledger.c.card_number, func.count()).where(
                ledger.c.card_number.in_(cards), ledger.c.kind == "opening").group_by(ledger.c.card_number)).all())
            booked = conn.execute(select(func.sum(ledger.c.amount)).where(ledger.c.card_number.in_(cards))).scalar()
            prefixes = set(conn.execute(select(func.substr(customers.c.phone, 1, 9)).where(
                customers.c.phone.like(f"+38050__{round_}%"))).scalars())
        assert set(per_card.values()) == {1} and len(per_card) == ROWS, per_card
        assert booked == totals[winner]
        assert prefixes == {(f"+3805033{round_}", f"+3805044{round_}")[winner]}
    engine.dispose()
