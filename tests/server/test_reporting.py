"""The report cache (store_server/reporting) against the ledger it summarises, on SQLite and PostgreSQL: its sums
are the ledger's, each shop's days are its own, and an operation that arrives late lands on its own day."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select

from store_server import shops
from store_server.data.db import cards, ledger, sales
from store_server.ledger import binding, operations
from store_server.reporting import figures, summary


def ledger_total(engine, kind: str | None = None) -> int:
    q = select(func.coalesce(func.sum(ledger.c.amount), 0))
    if kind:
        q = q.where(ledger.c.kind == kind)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def visits_from_sales(engine, period: figures.Period) -> Counter:
    """Customers per number of receipts in the period (4 = 4 or more), counted here from the sales table."""
    start = datetime.combine(period.first, time(), summary.zone("Europe/Kyiv")).astimezone(UTC)
    end = datetime.combine(period.last + timedelta(days=1), time(), summary.zone("Europe/Kyiv")).astimezone(UTC)
    with engine.connect() as conn:
        rows = conn.execute(select(sales.c.customer_id, func.count()).where(
            sales.c.at >= start, sales.c.at < end, sales.c.customer_id.is_not(None)).group_by(sales.c.customer_id)
        ).all()
    return Counter(min(int(n), 4) for _c, n in rows)


def test_the_cache_is_the_ledger_per_shop_day_and_follows_late_operations(shop_db):
    engine = shop_db.engine
    with engine.begin() as conn:
        shops.ensure_default(conn)
        shops.add(conn, "ALA1", name="Almaty", timezone="Asia/Almaty", country="KZ")
        for number, phone in (("10001", "+380501110001"), ("10002", "+380501110002"), ("10003", "+380501110003")):
            card = conn.execute(select(cards).where(cards.c.number == number)).mappings().one()
            binding.bind(conn, dict(card), phone, {"consent": True}, at=datetime.now(UTC), questionnaire=[])
    kyiv = {"id": "till-kyiv", "role": "cashier", "shop": "main"}
    almaty = {"id": "till-almaty", "role": "cashier", "shop": "ALA1"}
    # 20:30 UTC five days ago: 22:30 in Kyiv, 01:30 of the next day in Almaty
    base = (datetime.now(UTC) - timedelta(days=5)).replace(hour=20, minute=30, second=0, microsecond=0)
    first = shop_db.op("sale", device=kyiv, card_number="10001", amount=50_000, at=base, cashier="olga")
    assert first["status"] == "applied"
    assert shop_db.op("sale", device=almaty, card_number="10002", amount=20_000, at=base)["status"] == "applied"
    assert shop_db.op("sale", device=almaty, card_number="10001", amount=10_000, bonus_payment=2_000,
                      at=base + timedelta(hours=1))["status"] == "applied"
    assert shop_db.op("return", device=kyiv, sale_id=first["id"], amount=25_000,
                      at=base + timedelta(days=1))["status"] == "applied"
    assert shop_db.op("redeem", device=kyiv, card_number="10001", amount=10**9, at=base)["status"] == "rejected"

    assert summary.refresh(engine).full
    kyiv_day = base.astimezone(summary.zone("Europe/Kyiv")).date()
    with engine.connect() as conn:
        assert figures.liability(conn) == ledger_total(engine)
        everything = figures.Period(kyiv_day - timedelta(days=3), kyiv_day + timedelta(days=6))
        total = figures.totals(conn, everything)
        assert total["accrued"] == ledger_total(engine, "accrual")
        assert total["spent"] == -ledger_total(engine, "redemption") == 2_000
        assert total["receipts"] == 3 and total["refunds"] == 1 and total["rejected"] == 1
        assert total["revenue"] == 50_000 + 20_000 + 8_000 - 25_000
        by_shop = {r["key"]: r for r in figures.grouped(conn, figures.Period(kyiv_day, kyiv_day), "shop")}
        assert by_shop["main"]["receipts"] == 1 and "ALA1" not in by_shop  # Almaty's sales are on its next day
        almaty_next = figures.grouped(conn, figures.Period(kyiv_day + timedelta(days=1), kyiv_day + timedelta(days=1)),
                                      "shop", shop="ALA1")
        assert almaty_next[0]["receipts"] == 2
        by_cashier = {r["label"]: r for r in figures.grouped(conn, everything, "cashier")}
        assert by_cashier["olga"]["revenue"] == 50_000
        assert figures.visits(conn, everything) == visits_from_sales(engine, everything) == Counter({1: 1, 2: 1})

    # an offline till's sale of six days ago, sent now (a refresh re-reads what arrived in the last 2 minutes too)
    assert not summary.refresh(engine).full
    late = base - timedelta(days=1)
    assert shop_db.op("sale", device=kyiv, card_number="10003", amount=30_000, at=late)["status"] == "applied"
    again = summary.refresh(engine)
    assert not again.full and again.days >= 1
    with engine.connect() as conn:
        day = figures.by_day(conn, figures.Period(late.astimezone(summary.zone("Europe/Kyiv")).date(),
                                                  kyiv_day))
        assert [m["receipts"] for m in day.values()] == [1, 1]
        assert figures.liability(conn) == ledger_total(engine)
        for period in (everything, figures.Period(kyiv_day, kyiv_day + timedelta(days=1))):
            assert figures.visits(conn, period) == visits_from_sales(engine, period)

    # the nightly expiry writes off today: the cache follows, and next month's figure counts per card
    shop_db.put("bonus_expiry_days", 2)
    expired = operations.expire_bonuses(engine)
    assert expired > 0
    summary.refresh(engine)
    with engine.connect() as conn:
        today = figures.today(conn)
        assert figures.totals(conn, figures.Period(today, today))["expired"] == expired
        assert figures.liability(conn) == ledger_total(engine)
        assert figures.expiring_next_month(conn, today, 2) == 0  # every credit was older than 2 days: all gone


def test_the_sms_report_of_one_shop_counts_that_shops_messages(shop_db):
    """sms_log.shop (revision 0018): a shop's SMS report counts the messages for its customers; the chain's
    counts every message, those of no shop (the back office's, older ones) included."""
    from sqlalchemy import insert

    from store_server.data.db import sms_log

    engine = shop_db.engine
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        shops.ensure_default(conn)
        shops.add(conn, "ALA1", name="Almaty", timezone="Asia/Almaty", country="KZ")
        conn.execute(insert(sms_log), [
            dict(phone="+77011239001", purpose="register", gateway="eskiz", gateway_message_id="e1", status="delivered",
                 sent_at=at, segments=1, shop="ALA1"),
            dict(phone="+77011239002", purpose="welcome", gateway="eskiz", gateway_message_id="e2", status="failed",
                 sent_at=at, segments=2, shop="ALA1"),
            dict(phone="+380501239003", purpose="register", gateway="turbosms", gateway_message_id="t1",
                 status="delivered", sent_at=at, segments=1, shop="main"),
            dict(phone="+380501239004", purpose="register", gateway="turbosms", gateway_message_id="t2",
                 status="sent", sent_at=at, segments=1, shop=None),
        ])
    period = figures.Period(at.date(), at.date())
    with engine.connect() as conn:
        almaty = {(r["gateway"], r["purpose"]): (r["sent"], r["delivered"], r["failed"], r["segments"])
                  for r in figures.sms(conn, period, "ALA1")}
        kyiv = {(r["gateway"], r["purpose"]): r["sent"] for r in figures.sms(conn, period, "main")}
        chain = {(r["gateway"], r["purpose"]): r["sent"] for r in figures.sms(conn, period)}
    assert almaty == {("eskiz", "register"): (1, 1, 0, 1), ("eskiz", "welcome"): (1, 0, 1, 2)}
    assert kyiv == {("turbosms", "register"): 1}
    assert chain == {("eskiz", "register"): 1, ("eskiz", "welcome"): 1, ("turbosms", "register"): 2}
