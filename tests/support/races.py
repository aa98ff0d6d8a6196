"""Races against real store server processes: the same request fired from many threads at one instant.

A `Fleet` is several `store-server serve` processes on one database (a SQLite file, or a PostgreSQL
database of the suite's throwaway cluster). Each race prepares its own card, sale or phone, fires its
requests from 10-20 threads released by one barrier over warm keep-alive connections spread over all
processes, and then checks the ledger's promises in the database. Shared by tests/server/test_races.py
and benchmarks/contention.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import func, select

from store_server import devices, shop, shops
from store_server.cards import issue_range, set_state
from store_server.config import ServerConfig
from store_server.data.db import cards, customers, ledger, make_engine, otp_challenges, sales, sms_log
from store_server.data.db import operations as operations_table
from store_server.ledger import operations
from store_server.messaging import codes as otp
from tests.support.server import ServerProcess, free_port, init_demo_server

PHONES = itertools.count(1_000_000)
# Codes the set-up makes for itself (the races' tokens and challenges): no send limit applies to them.
LOOSE = otp.OtpPolicy(resend_after=otp.timedelta(0), **{
    f.name: 10**6 for f in dataclasses.fields(otp.OtpPolicy) if f.name.startswith("sends_per")})


def new_phone() -> str:
    # +380 50 ... is a Ukrainian mobile range phonenumbers accepts as valid; one fresh phone per use.
    return f"+38050{next(PHONES):07d}"


@dataclass
class Answer:
    status: int  # HTTP status; 0 when the connection failed
    body: dict

    @property
    def result(self) -> dict:
        """The one operation's result of a one-operation batch."""
        return (self.body.get("results") or [{}])[0]


@dataclass
class Outcome:
    name: str
    rounds: int = 0
    requests: int = 0
    server_errors: int = 0  # 5xx and dropped connections
    broken: int = 0  # rounds in which a promise of the ledger did not hold
    notes: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, answers: list[Answer], problems: list[str]) -> None:
        self.rounds += 1
        self.requests += len(answers)
        self.server_errors += sum(a.status == 0 or a.status >= 500 for a in answers)
        if problems:
            self.broken += 1
            self.notes.extend(problems[:3])


class Fleet:
    """`processes` servers on one database; with `database_url` None a SQLite file in `root`."""

    def __init__(self, root: Path, processes: int, database_url: str | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        if database_url:
            config = ServerConfig(data_dir=root, database_url=database_url, demo=True, port=free_port(),
                                  secret_key=uuid.uuid4().hex)
            (root / "server.toml").write_text(config.to_toml(), encoding="utf-8")
        first = init_demo_server(root)
        self.servers = [first] + [ServerProcess(root, free_port()) for _ in range(processes - 1)]
        self.config = ServerConfig.load(first.config_path)
        self.engine = make_engine(self.config.database_url)
        self.backend = "postgresql" if self.config.database_url.startswith("postgresql") else "sqlite"
        with self.engine.begin() as conn:
            # Money races go without SMS codes (those have races of their own); a device may ask for many
            # codes an hour here, the per-phone limits stay the shop's defaults.
            shop.put(conn, "code_required", {"redeem": False, "discount": False, "return": False})
            # A lab shop: the device and shop-wide code caps lifted (thousands of codes an hour here), the
            # per-phone limits kept as they are.
            shop.put(conn, "otp", {"sends_per_device_hour": 1_000_000, "sends_per_device_day": 1_000_000})
            shop.put(conn, "sms_shop_per_hour", 10**9)  # None would read as the default
            shop.put(conn, "sms_shop_per_day", 10**9)
            issue_range(conn, 200_001, 202_000)
        self._cards = itertools.count(200_001)
        self._local = threading.local()
        self.latencies: list[float] | None = None  # when a list, fire() adds each request's latency to it
        self.cashiers: list[dict] = []
        self.entrances: list[dict] = []
        self.other_shop: list[dict] = []  # cashier tills of a second shop, OTHER_SHOP (other_shop_tills())

    # processes ---------------------------------------------------------------------------------------
    def start(self, devices_per_role: int = 5) -> Fleet:
        for server in self.servers:
            server.start(deadline=120)  # generous: a loaded machine starts Python slowly
        for role in ("cashier", "entrance"):
            pool = self.cashiers if role == "cashier" else self.entrances
            while len(pool) < devices_per_role:  # the enrolment race below fires them at once
                for answer in self.fire([self.enrol_call(role) for _ in range(devices_per_role - len(pool))]):
                    if answer.status == 200:
                        pool.append({"id": answer.body["device_id"], "key": answer.body["device_key"],
                                     "role": role, "shop": answer.body["shop"]})
        return self

    def other_shop_tills(self, count: int = 3) -> list[dict]:
        """Cashier tills of a second shop of the chain (made on first use): customers, cards and balances are
        the chain's, so a sale of the first shop may come back at these."""
        with self.engine.begin() as conn:
            if OTHER_SHOP not in shops.codes(conn):
                shops.add(conn, OTHER_SHOP, name="Second shop", timezone="Asia/Almaty", country="KZ")
        while len(self.other_shop) < count:
            for answer in self.fire([self.enrol_call("cashier", shop=OTHER_SHOP)
                                     for _ in range(count - len(self.other_shop))]):
                if answer.status == 200:
                    self.other_shop.append({"id": answer.body["device_id"], "key": answer.body["device_key"],
                                            "role": "cashier", "shop": answer.body["shop"]})
        return self.other_shop

    def enrol_call(self, role: str, token: str | None = None, shop: str | None = None) -> tuple:
        if token is None:
            with self.engine.begin() as conn:
                token = devices.create_enrolment_token(conn, role=role, shop=shop or shops.DEFAULT)
        return ("POST", "/api/v1/devices/enrol", None, {"enrolment_token": token, "name": f"{role} device",
                                                         "role": role})

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.engine.dispose()

    def server_log(self) -> str:
        return self.servers[0].stderr_text(limit=1_000_000)  # the processes share one data dir and file

    # requests ----------------------------------------------------------------------------------------
    def _session(self, slot: int) -> requests.Session:
        sessions = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = {}
        if slot not in sessions:
            sessions[slot] = requests.Session()
        return sessions[slot]

    def fire(self, calls: list[tuple[str, str, dict | None, dict | None]],
             latencies: list[float] | None = None) -> list[Answer]:
        """Sends call i = (method, path, device, json) through process i % n, all released at once."""
        answers: list[Answer | None] = [None] * len(calls)
        latencies = self.latencies if latencies is None else latencies
        barrier = threading.Barrier(len(calls))

        def run(i: int) -> None:
            method, path, device, body = calls[i]
            server = self.servers[i % len(self.servers)]
            headers = {"Authorization": f"Bearer {device['key']}"} if device else {}
            session = self._session(i)
            try:
                # Warm the keep-alive connection so the barrier releases requests, not TCP handshakes.
                session.get(f"{server.url}/api/v1/openapi.json", timeout=60)
            except requests.RequestException:
                pass
            barrier.wait(timeout=120)
            started = time.perf_counter()
            try:
                r = session.request(method, server.url + path, json=body, headers=headers, timeout=120)
                try:
                    data = r.json()
                except ValueError:
                    data = {"text": r.text[:200]}
                answers[i] = Answer(r.status_code, data if isinstance(data, dict) else {"data": data})
            except requests.RequestException as e:
                answers[i] = Answer(0, {"error": repr(e)})
            if latencies is not None:
                latencies.append(time.perf_counter() - started)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [a or Answer(0, {"error": "no answer"}) for a in answers]

    # set-up, in this process, through the server's own functions -------------------------------------
    def new_card(self) -> str:
        return str(next(self._cards))

    @staticmethod
    def op(type_: str, op_id: str | None = None, **payload) -> dict:
        return {"id": op_id or str(uuid.uuid4()), "type": type_,
                "at": datetime.now(UTC).isoformat(), "payload": payload}

    def apply(self, op: dict, device: dict | None = None) -> dict:
        device = device or self.cashiers[0]
        op = {**op, "at": datetime.fromisoformat(op["at"])}
        result = operations.apply_batch(self.engine, [op], {"id": device["id"], "role": device["role"],
                                                            "shop": device.get("shop")})[0]
        assert result["status"] == "applied", result
        return result

    def sale(self, card: str, amount: int = 10_000) -> str:
        """A sale of `amount` on `card` (the demo rule accrues 10 %); returns its operation id."""
        op = self.op("sale", card_number=card, amount=amount)
        self.apply(op)
        return op["id"]

    def token(self, phone: str, card: str | None, purpose: str = "register") -> str:
        with self.engine.begin() as conn:
            challenge, code = otp.create_challenge(conn, secret_key=self.config.secret_key, phone=phone,
                                                   purpose=purpose, device_id=self.cashiers[0]["id"],
                                                   card_number=card, policy=LOOSE)
            return otp.check(conn, secret_key=self.config.secret_key, challenge_id=challenge["challenge_id"],
                             code=code)["verification_token"]

    def balance(self, card: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0))
                                    .where(ledger.c.card_number == card)).scalar())

    def device(self, i: int) -> dict:
        pool = self.cashiers
        return pool[i % len(pool)]

    def batch(self, i: int, op: dict, device: dict | None = None) -> tuple:
        return ("POST", "/api/v1/operations:batch", device or self.device(i), {"operations": [op]})


# The races. Each returns the answers and the broken promises of one round. -----------------------------

def _applied(answers: list[Answer]) -> list[dict]:
    return [a.result for a in answers if a.status == 200 and a.result.get("status") == "applied"]


def race_redeem_whole(fleet: Fleet, threads: int = 20) -> tuple[list[Answer], list[str]]:
    card = fleet.new_card()
    fleet.sale(card)  # 1,000 bonuses
    answers = fleet.fire([fleet.batch(i, fleet.op("redeem", card_number=card, amount=1_000)) for i in range(threads)])
    problems = []
    if len(_applied(answers)) > 1:
        problems.append(f"the whole balance was spent {len(_applied(answers))} times")
    if (left := fleet.balance(card)) != 1_000 - 1_000 * len(_applied(answers)) or left < 0:
        problems.append(f"balance {left}")
    return answers, problems


def race_redeem_partial(fleet: Fleet, threads: int = 20) -> tuple[list[Answer], list[str]]:
    card = fleet.new_card()
    fleet.sale(card)  # 1,000 bonuses; 300 at a time, half of the tills take what is left when short
    answers = fleet.fire([fleet.batch(i, fleet.op("redeem", card_number=card, amount=300,
                                                  **({"allow_partial": True} if i % 2 else {})))
                          for i in range(threads)])
    spent = sum(r["result"]["redeemed"] for r in _applied(answers))
    left = fleet.balance(card)
    problems = []
    if spent > 1_000:
        problems.append(f"{spent} spent of 1000")
    if left < 0 or left != 1_000 - spent:
        problems.append(f"balance {left} after {spent} spent of 1000")
    return answers, problems


def _sale_row(fleet: Fleet, sale_id: str) -> dict:
    with fleet.engine.connect() as conn:
        return dict(conn.execute(select(sales).where(sales.c.operation_id == sale_id)).mappings().one())


def race_return_return(fleet: Fleet, threads: int = 10) -> tuple[list[Answer], list[str]]:
    card = fleet.new_card()
    sale_id = fleet.sale(card, 10_000)
    answers = fleet.fire([fleet.batch(i, fleet.op("return", sale_id=sale_id, amount=10_000)) for i in range(threads)])
    refunded = sum(r["result"]["money_refund"] for r in _applied(answers))
    row = _sale_row(fleet, sale_id)
    problems = []
    if refunded > 10_000 or row["money_refunded"] > row["paid"] or row["returned_amount"] > row["amount"]:
        problems.append(f"{refunded} refunded for a sale of 10000")
    if fleet.balance(card) < 0:
        problems.append(f"balance {fleet.balance(card)}")
    return answers, problems


def race_return_cancel(fleet: Fleet, threads: int = 10) -> tuple[list[Answer], list[str]]:
    card = fleet.new_card()
    sale_id = fleet.sale(card, 10_000)
    answers = fleet.fire([fleet.batch(i, fleet.op("return", sale_id=sale_id, amount=10_000) if i % 2 else
                                      fleet.op("cancel", operation_id=sale_id)) for i in range(threads)])
    applied = _applied(answers)
    problems = []
    if len(applied) > 1:
        problems.append(f"the sale was undone {len(applied)} times (returns and cancels)")
    row = _sale_row(fleet, sale_id)
    if row["cancelled_by"] and row["returned_amount"]:
        problems.append("the sale is both returned and cancelled")
    if fleet.balance(card) < 0:
        problems.append(f"balance {fleet.balance(card)}")
    return answers, problems


def race_redeem_cancel(fleet: Fleet, threads: int = 10) -> tuple[list[Answer], list[str]]:
    card = fleet.new_card()
    sale_id = fleet.sale(card, 10_000)  # the card's only 1,000 bonuses
    answers = fleet.fire([fleet.batch(i, fleet.op("redeem", card_number=card, amount=1_000) if i % 2 else
                                      fleet.op("cancel", operation_id=sale_id)) for i in range(threads)])
    problems = []
    if (left := fleet.balance(card)) < 0:
        problems.append(f"balance {left}")
    if len(_applied(answers)) > 1:
        problems.append(f"{len(_applied(answers))} of the redeems and the cancel applied")
    return answers, problems


def _register(fleet: Fleet, i: int, phone: str, card: str) -> tuple:
    op = {**fleet.op("register", phone=phone, card_number=card, consent=True), "verification_token":
          fleet.token(phone, card)}
    # Half at cashier tills, half at entrance kiosks: both activate directly.
    device = fleet.cashiers[i % len(fleet.cashiers)] if i % 2 else fleet.entrances[i % len(fleet.entrances)]
    return fleet.batch(i, op, device)


def _active_cards(fleet: Fleet, phone: str) -> int:
    with fleet.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(cards.join(customers))
                            .where(customers.c.phone == phone, cards.c.state == "active")).scalar()


def race_card_two_phones(fleet: Fleet, threads: int = 10) -> tuple[list[Answer], list[str]]:
    card = fleet.new_card()
    phones = [new_phone() for _ in range(threads)]
    answers = fleet.fire([_register(fleet, i, phone, card) for i, phone in enumerate(phones)])
    problems = []
    if len(_applied(answers)) > 1:
        problems.append(f"one card bound to {len(_applied(answers))} phones")
    bound = sum(_active_cards(fleet, phone) for phone in phones)
    if bound > 1:
        problems.append(f"{bound} phones hold the card")
    return answers, problems


def race_phone_two_cards(fleet: Fleet, threads: int = 10) -> tuple[list[Answer], list[str]]:
    """A known customer whose card was blocked (lost) gets new cards at several tills at once."""
    phone, lost = new_phone(), fleet.new_card()
    fleet.apply({**fleet.op("register", phone=phone, card_number=lost, consent=True),
                 "verification_token": fleet.token(phone, lost)}, fleet.entrances[0])
    with fleet.engine.begin() as conn:
        set_state(conn, lost, "blocked")
    numbers = [fleet.new_card() for _ in range(threads)]
    answers = fleet.fire([_register(fleet, i, phone, card) for i, card in enumerate(numbers)])
    problems = []
    if (active := _active_cards(fleet, phone)) > 1:
        problems.append(f"one phone holds {active} active cards")
    if len(_applied(answers)) > 1:
        problems.append(f"{len(_applied(answers))} registrations of one phone applied")
    return answers, problems


def race_code_requests(fleet: Fleet, threads: int = 20) -> tuple[list[Answer], list[str]]:
    phone = new_phone()
    kiosks = fleet.entrances + fleet.cashiers
    calls = [("POST", "/api/v1/otp", kiosks[i % len(kiosks)], {"phone": phone, "purpose": "register"})
             for i in range(threads)]
    answers = fleet.fire(calls)
    with fleet.engine.connect() as conn:
        sent = conn.execute(select(func.count()).select_from(sms_log).where(sms_log.c.phone == phone)).scalar()
    given = sum(a.status == 200 for a in answers)
    problems = []
    if given > 1 or sent > 1:
        problems.append(f"{given} codes given, {sent} SMS sent to one phone at once (limit 1 per 30 s)")
    return answers, problems


def race_wrong_guesses(fleet: Fleet, threads: int = 20) -> tuple[list[Answer], list[str]]:
    phone = new_phone()
    with fleet.engine.begin() as conn:
        challenge, code = otp.create_challenge(conn, secret_key=fleet.config.secret_key, phone=phone,
                                               purpose="register", device_id=fleet.entrances[0]["id"], policy=LOOSE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = fleet.fire([("POST", f"/api/v1/otp/{challenge['challenge_id']}/check", fleet.device(i),
                           {"code": wrong}) for i in range(threads)])
    judged = sum(a.body.get("error") == "wrong_code" for a in answers)
    with fleet.engine.connect() as conn:
        tries = conn.execute(select(otp_challenges.c.attempts)
                             .where(otp_challenges.c.id == challenge["challenge_id"])).scalar()
    limit = otp.OtpPolicy().max_attempts
    problems = []
    if judged > limit or tries > limit:
        problems.append(f"{judged} wrong guesses judged, {tries} counted (limit {limit})")
    return answers, problems


def race_one_operation_id(fleet: Fleet, threads: int = 20) -> tuple[list[Answer], list[str]]:
    card = fleet.new_card()
    fleet.sale(card)  # 1,000 bonuses; the raced sale spends 500 of them and earns 10 % of what is paid
    op = fleet.op("sale", card_number=card, amount=5_000, redeem=500)
    device = fleet.cashiers[0]
    answers = fleet.fire([fleet.batch(i, op, device) for i in range(threads)])
    problems = []
    statuses = [a.result.get("status") for a in answers if a.status == 200]
    if statuses.count("applied") != 1 or set(statuses) - {"applied", "duplicate"}:
        problems.append(f"one operation id answered {sorted(statuses)}")
    if (left := fleet.balance(card)) != 1_000 - 500 + 450:
        problems.append(f"balance {left}, not 950")
    return answers, problems


def race_enrol(fleet: Fleet, threads: int = 10) -> tuple[list[Answer], list[str]]:
    """Five new tills enrol at once, each token sent twice (a double tap): never two devices for one token.

    Refusals are allowed (the second tap; 429 once the address has failed often, [limits]); 5xx are not."""
    with fleet.engine.begin() as conn:
        tokens = [devices.create_enrolment_token(conn, role="cashier", shop=shops.DEFAULT)
                  for _ in range(threads // 2)]
    answers = fleet.fire([fleet.enrol_call("cashier", tokens[i % len(tokens)]) for i in range(threads)])
    problems = []
    per_token = [sum(a.status == 200 for a in answers[i::len(tokens)]) for i in range(len(tokens))]
    if max(per_token) > 1:
        problems.append(f"one token enrolled {max(per_token)} devices")
    return answers, problems


def race_receipt_bonus_payment(fleet: Fleet, threads: int = 20) -> tuple[list[Answer], list[str]]:
    """Receipts paying with the card's whole balance from every till at once (issue 13): one receipt pays
    with the 1,000 bonuses, the others are refused or (allow_partial) pay what is left, never more; each
    earns 10 % on the money it paid, and the ledger adds up."""
    card = fleet.new_card()
    fleet.sale(card)  # 1,000 bonuses
    answers = fleet.fire([fleet.batch(i, fleet.op("sale", card_number=card, amount=5_000, bonus_payment=1_000,
                                                  **({"allow_partial": True} if i % 2 else {})))
                          for i in range(threads)])
    applied = [r["result"] for r in _applied(answers)]
    paid = sum(r["bonus_payment"] for r in applied)
    earned = sum(r["accrued"] for r in applied)
    problems = []
    # Later receipts may pay with what earlier ones earned; what none may do is pay with bonuses another
    # receipt already paid with: in ledger order the balance never dips below zero.
    running = 0
    with fleet.engine.connect() as conn:
        for (amount,) in conn.execute(select(ledger.c.amount).where(ledger.c.card_number == card)
                                      .order_by(ledger.c.id)):
            running += amount
            if running < 0:
                problems.append(f"the balance went to {running}: bonuses paid twice")
                break
    problems += [f"earned {r['accrued']} on {r['to_pay']} paid" for r in applied if r["accrued"] != r["to_pay"] // 10]
    if paid > 1_000 + earned:
        problems.append(f"{paid} bonuses paid of 1000 + {earned} earned")
    if (left := fleet.balance(card)) != 1_000 - paid + earned or left < 0:
        problems.append(f"balance {left} after {paid} paid and {earned} earned")
    return answers, problems


def race_receipt_returns(fleet: Fleet, threads: int = 10) -> tuple[list[Answer], list[str]]:
    """Returns of one receipt paid partly with bonuses, from every till at once: the goods come back at most
    once, the bonuses paid come back at most once (pro rata), the accrual is taken back at most once."""
    card = fleet.new_card()
    fleet.sale(card)  # 1,000 bonuses
    op = fleet.op("sale", card_number=card, amount=10_000, bonus_payment=1_000)
    fleet.apply(op)  # 9,000 paid, 900 earned: balance 900
    answers = fleet.fire([fleet.batch(i, fleet.op("return", sale_id=op["id"], amount=2_500))
                          for i in range(threads)])
    applied = [r["result"] for r in _applied(answers)]
    refunded = sum(r["bonus_payment_refunded"] for r in applied)
    taken = sum(r["bonuses_taken"] for r in applied)
    problems = []
    if len(applied) > 4:
        problems.append(f"{len(applied)} returns of a quarter each")
    if refunded > 1_000 or taken > 900:
        problems.append(f"{refunded} bonuses given back of 1000 paid, {taken} taken back of 900 earned")
    if (left := fleet.balance(card)) != 900 + refunded - taken or left < 0:
        problems.append(f"balance {left} after {refunded} given back and {taken} taken")
    return answers, problems


OTHER_SHOP = "B"


def race_cross_shop_returns(fleet: Fleet, threads: int = 12) -> tuple[list[Answer], list[str]]:
    """A receipt of the first shop, paid partly with bonuses, comes back at tills of both shops at once
    (quarter returns) while a till of the second shop cancels it: undone at most once over, never both
    returned and cancelled, the bonuses given and taken back at most once, the chain's balance right, and
    each applied return or cancel recorded in the shop of the till that made it."""
    there = fleet.other_shop_tills()
    card = fleet.new_card()
    fleet.sale(card)  # 1,000 bonuses, in the first shop
    op = fleet.op("sale", card_number=card, amount=10_000, bonus_payment=1_000)
    fleet.apply(op)  # 9,000 paid, 900 earned: balance 900
    calls = []
    for i in range(threads):
        till = there[i % len(there)] if i % 2 else fleet.cashiers[i % len(fleet.cashiers)]
        undo = fleet.op("cancel", operation_id=op["id"]) if i == 1 else fleet.op("return", sale_id=op["id"],
                                                                              amount=2_500)
        calls.append(fleet.batch(i, undo, till))
    answers = fleet.fire(calls)
    applied = _applied(answers)
    returns = [r["result"] for r in applied if "returned" in r["result"]]
    refunded = sum(r["bonus_payment_refunded"] for r in returns)
    taken = sum(r["bonuses_taken"] for r in returns)
    row = _sale_row(fleet, op["id"])
    problems = []
    if row["cancelled_by"] and row["returned_amount"]:
        problems.append("the sale is both returned and cancelled")
    if len(returns) > 4 or row["returned_amount"] > row["amount"] or row["money_refunded"] > row["paid"]:
        problems.append(f"{len(returns)} returns of a quarter applied, {row['returned_amount']} returned")
    if refunded > 1_000 or taken > 900:
        problems.append(f"{refunded} bonuses given back of 1000 paid, {taken} taken back of 900 earned")
    left = fleet.balance(card)
    expected = 1_000 if row["cancelled_by"] else 900 + refunded - taken  # a cancel gives the 1,000 paid back
    if left != expected or left < 0:
        problems.append(f"balance {left}, expected {expected}")
    sent_by = {call[3]["operations"][0]["id"]: call[2]["shop"] for call in calls}
    with fleet.engine.connect() as conn:
        recorded = dict(conn.execute(select(operations_table.c.id, operations_table.c.shop)
                                     .where(operations_table.c.id.in_([r["id"] for r in applied]))).all())
    if wrong := {k: v for k, v in recorded.items() if v != sent_by[k]}:
        problems.append(f"operations recorded in the wrong shop: {wrong}")
    return answers, problems


def race_expire_redeem(fleet: Fleet, threads: int = 12, cards: int = 100) -> tuple[list[Answer], list[str]]:
    """The nightly `store-server expire` (its own process, as the timer runs it) writes off old bonuses while
    tills keep spending them on the same cards: a card's bonuses go once, to a till or to expiry, never both."""
    numbers = [fleet.new_card() for _ in range(cards)]
    old = (datetime.now(UTC) - timedelta(days=100)).isoformat()
    for number in numbers:  # 1,000 bonuses each, earned 100 days ago: all of them past a 30-day expiry
        fleet.apply({**fleet.op("sale", card_number=number, amount=10_000), "at": old})
    with fleet.engine.begin() as conn:
        shop.put(conn, "bonus_expiry_days", 30)
    server = fleet.servers[0]
    expire = subprocess.Popen([sys.executable, "-m", "store_server.cli", "--config", str(server.config_path),
                               "expire"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers: list[Answer] = []
    lock = threading.Lock()

    def till(i: int) -> None:
        # Redeems one after another over the cards until the expiry has finished (its process starts slower
        # than a redeem); small ones, so that no card runs dry before the expiry reaches it.
        session, target = requests.Session(), fleet.servers[i % len(fleet.servers)]
        device = fleet.device(i)
        n = i
        while expire.poll() is None:
            op = fleet.op("redeem", card_number=numbers[n % cards], amount=10,
                          **({"allow_partial": True} if i % 2 else {}))
            n += threads
            try:
                r = session.post(f"{target.url}/api/v1/operations:batch", json={"operations": [op]}, timeout=120,
                                 headers={"Authorization": f"Bearer {device['key']}"})
                answer = Answer(r.status_code, r.json() if r.headers.get("content-type", "").startswith(
                    "application/json") else {"text": r.text[:200]})
            except requests.RequestException as e:
                answer = Answer(0, {"error": repr(e)})
            with lock:
                answers.append(answer)
        session.close()

    workers = [threading.Thread(target=till, args=(i,)) for i in range(threads)]
    try:
        for w in workers:
            w.start()
        out, err = expire.communicate(timeout=300)
    finally:
        if expire.poll() is None:
            expire.kill()
        for w in workers:
            w.join()
        with fleet.engine.begin() as conn:
            shop.put(conn, "bonus_expiry_days", None)
    problems = [] if expire.returncode == 0 else [f"expire exited {expire.returncode}: {err[-300:]}"]
    with fleet.engine.connect() as conn:
        moved = conn.execute(select(ledger.c.card_number, ledger.c.kind, func.sum(ledger.c.amount))
                             .where(ledger.c.card_number.in_(numbers)).group_by(ledger.c.card_number, ledger.c.kind)
                             ).all()
    by_card: dict[str, dict[str, int]] = {}
    for number, kind, amount in moved:
        by_card.setdefault(number, {})[kind] = int(amount)
    for number in numbers:
        kinds = by_card.get(number, {})
        left = sum(kinds.values())
        if left < 0 or -sum(v for k, v in kinds.items() if k != "accrual") > 1_000:
            problems.append(f"card {number}: {kinds}, balance {left}")
    if not any("expiry" in kinds for kinds in by_card.values()):
        problems.append("nothing expired: the expiry ran after every redeem, not beside them")
    return answers, problems


def race_overlapping_batches(fleet: Fleet, threads: int = 8, cards: int = 10, per_batch: int = 40
                             ) -> tuple[list[Answer], list[str]]:
    """Two tills' batches of sales on the same cards, each batch sent several times at once to every process
    (a till retrying through a second server): the bulk shortcut on both sides of a duplicate. Till B's batch
    spends bonuses once in its middle, so it is cut into bulk runs around a careful one."""
    numbers = [fleet.new_card() for _ in range(cards)]
    for number in numbers:
        fleet.sale(number)  # 1,000 bonuses each
    till_a, till_b = fleet.cashiers[0], fleet.cashiers[1]
    batch_a = [fleet.op("sale", card_number=numbers[i % cards], amount=1_000 + 10 * i) for i in range(per_batch)]
    batch_b = [fleet.op("sale", card_number=numbers[(i * 3) % cards], amount=2_000 + 10 * i)
               for i in range(per_batch)]
    batch_b.insert(per_batch // 2, fleet.op("sale", card_number=numbers[0], amount=1_000, redeem=500))
    # Call i goes to process i % n: A, B, B, A, ... puts each batch on every process (n = 2 or 3).
    calls = [("POST", "/api/v1/operations:batch", *((till_a, {"operations": batch_a}) if i % 4 in (0, 3)
                                                     else (till_b, {"operations": batch_b})))
             for i in range(threads)]
    answers = fleet.fire(calls)
    problems = []
    if refused := [a for a in answers if a.status != 200]:
        problems.append(f"{len(refused)} batches answered {refused[0].status} {str(refused[0].body)[:200]}")
    by_id: dict[str, list[dict]] = {}
    for a in answers:
        for r in a.body.get("results") or []:
            by_id.setdefault(r["id"], []).append(r)
    ids = [op["id"] for op in batch_a + batch_b]
    for op_id in ids:
        got = by_id.get(op_id, [])
        statuses = sorted(r["status"] for r in got)
        if statuses.count("applied") != 1 or set(statuses) != {"applied", "duplicate"}:
            problems.append(f"operation {op_id} answered {statuses}")
        elif len({repr(r["result"]) for r in got}) != 1:
            problems.append(f"operation {op_id}: its duplicates answered another result than its first")
    with fleet.engine.connect() as conn:
        entries = dict(conn.execute(select(ledger.c.operation_id, func.count()).where(ledger.c.operation_id.in_(ids))
                                    .group_by(ledger.c.operation_id)).all())
        receipts = dict(conn.execute(select(sales.c.operation_id, func.count()).where(sales.c.operation_id.in_(ids))
                                     .group_by(sales.c.operation_id)).all())
    if twice := [i for i in ids if receipts.get(i) != 1]:
        problems.append(f"{len(twice)} sales recorded other than once, e.g. {twice[0]}: {receipts.get(twice[0])}")
    rows = {op["id"]: 2 if op["payload"].get("redeem") else 1 for op in batch_a + batch_b}  # redemption + accrual
    if wrong := [i for i in ids if entries.get(i) != rows[i]]:
        problems.append(f"{len(wrong)} operations with other than their ledger rows, e.g. {entries.get(wrong[0])}")
    # The demo rule accrues 10 % of what is paid; the one redemption spends 500 and earns on the other 500.
    expected = dict.fromkeys(numbers, 1_000)
    for op in batch_a + batch_b:
        p = op["payload"]
        expected[p["card_number"]] += (p["amount"] - p.get("redeem", 0)) // 10 - p.get("redeem", 0)
    for number in numbers:
        if (left := fleet.balance(number)) != expected[number]:
            problems.append(f"card {number}: ledger sums to {left}, not {expected[number]}")
    return answers, problems


RACES: dict[str, Callable[[Fleet], tuple[list[Answer], list[str]]]] = {
    "redeem_whole": race_redeem_whole,
    "redeem_partial": race_redeem_partial,
    "return_return": race_return_return,
    "return_cancel": race_return_cancel,
    "redeem_cancel": race_redeem_cancel,
    "receipt_bonus_payment": race_receipt_bonus_payment,
    "receipt_returns": race_receipt_returns,
    "cross_shop_returns": race_cross_shop_returns,
    "card_two_phones": race_card_two_phones,
    "phone_two_cards": race_phone_two_cards,
    "code_requests": race_code_requests,
    "wrong_guesses": race_wrong_guesses,
    "one_operation_id": race_one_operation_id,
    "overlapping_batches": race_overlapping_batches,
    "enrol": race_enrol,
    "expire_redeem": race_expire_redeem,
}


def run_race(fleet: Fleet, name: str, rounds: int) -> Outcome:
    outcome = Outcome(name)
    fleet.latencies = outcome.latencies
    try:
        for _ in range(rounds):
            _round(fleet, name, outcome)
    finally:
        fleet.latencies = None
    return outcome


def _round(fleet: Fleet, name: str, outcome: Outcome) -> None:
    answers, problems = RACES[name](fleet)
    errors = [a for a in answers if a.status == 0 or a.status >= 500]
    if errors:
        outcome.notes.append(f"{len(errors)} server errors, e.g. {errors[0].status} {errors[0].body}")
    outcome.add(answers, problems)


# The mixed load: tills selling while customers ask for codes and register, for a while. -----------------

@dataclass
class Load:
    seconds: float = 0.0
    requests: int = 0
    server_errors: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # "kind status error": refusals other than 5xx


def mixed_load(fleet: Fleet, seconds: float, *, tills: int = 2, customers: int = 2,
               pause: float = 0.05) -> Load:
    """`tills` cashier devices post a sale (every fifth also spends a bonus) and look a card up every
    `pause` seconds while `customers` customers at entrance kiosks each ask for a code, type it in and
    register, one after another, until `seconds` have passed. Requests go round the fleet's processes."""
    load, lock = Load(), threading.Lock()
    stop = time.monotonic() + seconds
    till_cards = [fleet.new_card() for _ in range(tills)]
    for card in till_cards:
        fleet.sale(card)
    registered: list[tuple[str, str]] = []

    def call(session: requests.Session, i: int, kind: str, method: str, path: str, device: dict,
             body: dict | None = None) -> Answer:
        server = fleet.servers[i % len(fleet.servers)]
        started = time.perf_counter()
        try:
            r = session.request(method, server.url + path, json=body, timeout=120,
                                headers={"Authorization": f"Bearer {device['key']}"})
            answer = Answer(r.status_code, r.json() if r.headers.get("content-type", "").startswith(
                "application/json") else {"text": r.text[:200]})
        except (requests.RequestException, ValueError) as e:
            answer = Answer(0, {"error": repr(e)})
        with lock:
            load.latencies.append(time.perf_counter() - started)
            load.requests += 1
            load.by_kind[kind] = load.by_kind.get(kind, 0) + 1
            if answer.status == 0 or answer.status >= 500:
                load.server_errors += 1
                load.errors.append(f"{kind}: {answer.status} {str(answer.body)[:200]}")
            elif answer.status >= 400:
                key = f"{kind} {answer.status} {answer.body.get('error')}"
                load.refused[key] = load.refused.get(key, 0) + 1
        return answer

    def till(k: int) -> None:
        session, device, card, n = requests.Session(), fleet.cashiers[k % len(fleet.cashiers)], till_cards[k], 0
        while time.monotonic() < stop:
            n += 1
            payload = {"card_number": card, "amount": 1_000 + n}
            if n % 5 == 0:
                payload.update(redeem=50, allow_partial=True)
            call(session, k + n, "sale", "POST", "/api/v1/operations:batch", device,
                 {"operations": [fleet.op("sale", **payload)]})
            call(session, k + n, "lookup", "GET", f"/api/v1/cards/{card}", device)
            time.sleep(pause)

    def customer(k: int) -> None:
        session, device, n = requests.Session(), fleet.entrances[k % len(fleet.entrances)], 0
        while time.monotonic() < stop:
            n += 1
            phone, card = new_phone(), fleet.new_card()
            asked = call(session, k + n, "otp", "POST", "/api/v1/otp", device,
                         {"phone": phone, "purpose": "register", "card_number": card})
            if asked.status != 200:
                continue
            code = fleet.servers[0].last_code(phone)
            checked = call(session, k + n + 1, "check", "POST", f"/api/v1/otp/{asked.body['challenge_id']}/check",
                           device, {"code": code})
            if checked.status != 200:
                continue
            op = {**fleet.op("register", phone=phone, card_number=card, consent=True),
                  "verification_token": checked.body["verification_token"]}
            done = call(session, k + n, "register", "POST", "/api/v1/operations:batch", device, {"operations": [op]})
            if done.status == 200 and done.result.get("status") == "applied":
                with lock:
                    registered.append((phone, card))

    threads = [threading.Thread(target=till, args=(k,)) for k in range(tills)]
    threads += [threading.Thread(target=customer, args=(k,)) for k in range(customers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.seconds = time.monotonic() - started
    for card in till_cards:
        if fleet.balance(card) < 0:
            load.broken.append(f"card {card} balance {fleet.balance(card)}")
    for phone, _card in registered:
        if _active_cards(fleet, phone) != 1:
            load.broken.append(f"{phone} holds {_active_cards(fleet, phone)} active cards")
    return load


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
