"""Rules and tiers edited in place: versions in rule_history, the rules in force at a past moment, soft
delete, and the overlap warning's logic."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from store_server import clock
from store_server.data.db import rule_history
from store_server.errors import DomainError
from store_server.ledger import rules, tiers


def test_an_edited_rule_keeps_every_version_and_as_of_gives_the_one_in_force(shop_db):
    with shop_db.engine.begin() as conn:
        rule_id = conn.execute(select(rule_history.c.item_id).where(rule_history.c.item == "rule")).scalar()
        # Version 1 (the demo's 10 %) is dated a day back, as if made then.
        conn.execute(update(rule_history).values(at=clock.now() - timedelta(days=1)))
        rules.edit(conn, rule_id, value=2000, by="olga")
        rules.set_active(conn, rule_id, False, by="olga")
    with shop_db.engine.connect() as conn:
        history = rules.history(conn, rule_id)
        assert [(h["version"], h["change"], h["data"]["value"], h["data"]["active"]) for h in history] == [
            (3, "disabled", 2000, False), (2, "edited", 2000, True), (1, "created", 1000, True)]
        then = rules.as_of(conn, clock.now() - timedelta(hours=1))
        assert [(r.id, r.value) for r in then] == [(rule_id, 1000)]  # what a sale an hour ago was computed with
        assert rules.as_of(conn, clock.now() + timedelta(seconds=1)) == []  # disabled now
    assert shop_db.ok("sale", card_number="10001", amount=10_000)["result"]["accrued"] == 0


def test_a_deleted_rule_stays_in_history_and_cannot_change(shop_db):
    with shop_db.engine.begin() as conn:
        rule_id = rules.create(conn, name="weekend", kind="fixed", value=500, weekdays="76", by="olga")
        assert rules.get(conn, rule_id)["weekdays"] == "67"  # stored in order
        rules.delete(conn, rule_id, by="olga")
    with shop_db.engine.begin() as conn:
        assert rule_id not in [r["id"] for r in rules.listing(conn)]
        assert [r["id"] for r in rules.listing(conn, deleted=True)] == [rule_id]
        with pytest.raises(DomainError, match="deleted"):
            rules.set_active(conn, rule_id, True)
    with shop_db.engine.begin() as conn:
        # A new rule never gets the id of one whose history exists (SQLite reuses freed ids otherwise).
        assert rules.create(conn, name="next", kind="percent", value=100) > rule_id


@pytest.mark.parametrize("bad, code", [
    ({"value": 10_001}, "bad_rule"), ({"name": " "}, "bad_rule_name"), ({"time_from": 600, "time_to": 600},
                                                                          "bad_rule_window"),
    ({"time_from": 600}, "bad_rule_window"), ({"valid_from": date(2026, 12, 2), "valid_to": date(2026, 12, 1)},
                                               "bad_rule_dates"), ({"weekdays": "8"}, "bad_rule")])
def test_bad_edits_are_refused_and_change_nothing(shop_db, bad, code):
    with shop_db.engine.begin() as conn:
        rule_id = rules.listing(conn)[0]["id"]
    with pytest.raises(DomainError) as e, shop_db.engine.begin() as conn:
        rules.edit(conn, rule_id, **bad)
    assert e.value.code == code
    with shop_db.engine.connect() as conn:
        assert len(rules.history(conn, rule_id)) == 1


def test_a_tier_edited_and_deleted_keeps_its_history(shop_db):
    with shop_db.engine.begin() as conn:
        tier_id = tiers.create(conn, name="gold", min_turnover=100_000, rate=300, by="olga")
        tiers.edit(conn, tier_id, name="gold", min_turnover=50_000, rate=500, by="olga")
        tiers.delete(conn, tier_id, by="olga")
        assert tiers.load(conn) == []
        assert [(h["change"], h["data"]["rate"]) for h in rules.history(conn, tier_id, "tier")] == [
            ("deleted", 500), ("edited", 500), ("created", 300)]
        again = tiers.create(conn, name="gold", min_turnover=0, rate=100)  # the name is free again
        assert again != tier_id


def R(**kw) -> rules.Rule:  # noqa: N802 - a rule for the overlap checks
    return rules.Rule(**{"id": 1, "name": "a", "kind": "percent", "value": 100, "priority": 10, "combine": True,
                         **kw})


def test_overlaps_name_rules_that_can_meet_where_priority_and_combine_decide():
    alone = R(id=1, name="morning", priority=0, combine=False, time_from=540, time_to=660)
    base = R(id=2, name="base")
    evening = R(id=3, name="evening", priority=0, combine=False, time_from=1080, time_to=1320)
    night = R(id=4, name="night", priority=5, combine=False, time_from=1380, time_to=60)  # crosses midnight
    assert [(a.name, b.name, why) for a, b, why in rules.overlaps([alone, night, base])] == [
        ("morning", "base", "alone_first"), ("night", "base", "alone_first")]
    assert rules.overlaps([alone, evening]) == []  # their hours never meet
    assert rules.can_meet(night, R(time_from=0, time_to=30)) and not rules.can_meet(night, R(time_from=120,
                                                                                              time_to=300))
    assert rules.overlaps([base, R(id=5, name="late", combine=False, priority=10)])[0][2] == "same_priority"
    assert not rules.can_meet(R(weekdays="12"), R(weekdays="67"))
    assert not rules.can_meet(R(card_type="vip"), R(card_type="staff"))
    assert not rules.can_meet(R(valid_to=date(2026, 1, 1)), R(valid_from=date(2026, 2, 1)))
    assert not rules.can_meet(R(shops=("A",)), R(shops=("B",)))
    assert rules.overlaps([base, R(id=6, name="both", combine=True)]) == []  # they simply add up
