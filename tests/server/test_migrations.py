"""Schema migrations on SQLite and (KIOSK_TEST_PG=1) PostgreSQL: the revisions build exactly db.py's schema, a
database an earlier release left is upgraded with its data intact, and nothing runs on an outdated schema."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text

from store_server import cards, shop
from store_server.data import db, migrate
from store_server.ledger import operations
from tests.server.legacy import schema_a743605 as legacy

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def differences(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)


def test_revisions_build_exactly_db_py_schema(database_url):
    """Fails when someone changes db.py without a revision (or a revision without db.py): write one with
    `python -m store_server.data.new_revision "what changed"`."""
    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate._config(conn), "head")  # every revision in turn, from nothing
    assert differences(engine) == []
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    engine.dispose()


def test_new_database_is_db_py_schema_at_head(database_url):
    engine = db.make_engine(database_url)
    db.create_schema(engine)
    db.create_schema(engine)  # twice is harmless
    assert differences(engine) == []
    with engine.connect() as conn:
        assert migrate.state(conn).up_to_date
    engine.dispose()


def test_history_is_linear():
    scripts = migrate._scripts()
    assert len(scripts.get_heads()) == 1
    revs = list(scripts.walk_revisions())
    assert revs[-1].revision == "0001_baseline" and revs[-1].down_revision is None


def _legacy_shop(engine) -> None:
    """What a shop running release a743605 has: cards, a customer, sales in the ledger, settings."""
    legacy.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(legacy.settings).values(key="public_name", value="Old Shop"))
        conn.execute(insert(legacy.customers).values(id=1, phone="+380501112233", name="Olena",
                                                     marketing_opt_in=False, created_at=NOW))
        conn.execute(insert(legacy.cards), [
            {"number": "10001", "state": "active", "kind": "bonus", "discount_percent": 0, "digital": False,
             "customer_id": 1, "created_at": NOW, "activated_at": NOW},
            {"number": "10002", "state": "issued", "kind": "discount", "discount_percent": 5, "digital": False,
             "customer_id": None, "created_at": NOW, "activated_at": None},
        ])
        conn.execute(insert(legacy.operations).values(
            id="op-1", device_id="till", type="sale", at=NOW, received_at=NOW, card_number="10001",
            payload={"amount": 10000}, status="applied"))
        conn.execute(insert(legacy.ledger).values(card_number="10001", operation_id="op-1", kind="accrual",
                                                  amount=1000, at=NOW))
        conn.execute(insert(legacy.rules).values(name="10% back", kind="percent", value=1000, priority=10,
                                                 combine=True, active=True))


def test_database_of_an_earlier_release_is_upgraded_with_its_data(database_url):
    engine = db.make_engine(database_url)
    _legacy_shop(engine)
    with pytest.raises(migrate.SchemaError, match="earlier release.*store-server upgrade"):
        db.create_schema(engine)  # the server and every command refuse it instead of answering 500

    before, after = migrate.upgrade(engine)
    assert (before, after) == (None, migrate.head())
    assert differences(engine) == []

    with engine.begin() as conn:
        card = cards.get_card(conn, "10001")
        assert (card["state"], card["balance"], card["card_type"]) == ("active", 1000, "standard")
        assert cards.get_card(conn, "10002")["discount_percent"] == 5
        assert shop.get(conn, "public_name") == "Old Shop"
        assert conn.execute(select(db.customers.c.phone)).scalar() == "+380501112233"
    # and the ledger takes new operations on the upgraded database
    res = operations.apply_batch(engine, [{"id": "op-2", "type": "sale", "at": NOW, "payload": {
        "card_number": "10001", "amount": 5000}, "verification_token": None, "cashier": None}],
        {"id": "till", "role": "cashier"})[0]
    assert res["status"] == "applied", res
    assert migrate.upgrade(engine) == (migrate.head(), migrate.head())  # again: nothing to do
    engine.dispose()


def test_unknown_revision_is_refused(database_url):
    engine = db.make_engine(database_url)
    db.create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(migrate.SchemaError, match="does not know"):
        db.create_schema(engine)
    with pytest.raises(migrate.SchemaError, match="does not know"):
        migrate.upgrade(engine)
    engine.dispose()


def test_upgrade_command_and_refusal_on_the_command_line(tmp_path):
    config = tmp_path / "server.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n', encoding="utf-8")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    _legacy_shop(engine)
    engine.dispose()

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(config), *args],
                              capture_output=True, text=True, timeout=60)

    refused = cli("settings", "show")
    assert refused.returncode == 2 and "store-server upgrade" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    done = cli("upgrade")
    assert done.returncode == 0, done.stderr
    assert migrate.head() in done.stdout
    kept = next(tmp_path.glob("backups/store-before-upgrade-unversioned-*.db"))  # the way back, if needed
    assert f"kept at {kept}" in done.stdout
    old = db.make_engine(f"sqlite:///{kept}")
    assert "alembic_version" not in inspect(old).get_table_names()
    old.dispose()
    assert cli("settings", "show").returncode == 0
    again = cli("upgrade")
    assert again.returncode == 0 and "already" in again.stdout
    tables = inspect(db.make_engine(f"sqlite:///{tmp_path / 'store.db'}")).get_table_names()
    assert "alembic_version" in tables and "till_activations" in tables


def test_a_customer_the_old_race_left_with_two_active_cards_keeps_the_newest(database_url):
    """0006_one_active_card: before the index, two tills could bind one known phone to two cards at once."""
    from datetime import timedelta

    from alembic import command

    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0005_device_clocks")
        # Cards as 0005 knew them (today's seed_demo writes columns later revisions add).
        conn.execute(insert(db.cards), [{"number": n, "created_at": NOW} for n in ("10001", "10002", "10003")])
        customer = conn.execute(insert(db.customers).values(phone="+380501112233", created_at=NOW)
                                ).inserted_primary_key[0]
        for number, minutes in (("10001", 0), ("10002", 5), ("10003", 1)):
            conn.execute(db.cards.update().where(db.cards.c.number == number).values(
                state="active", customer_id=customer, activated_at=NOW + timedelta(minutes=minutes)))
    assert migrate.upgrade(engine)[1] == migrate.head()
    with engine.connect() as conn:
        states = dict(conn.execute(select(db.cards.c.number, db.cards.c.state)
                                   .where(db.cards.c.customer_id == customer)).all())
    assert states == {"10001": "blocked", "10002": "active", "10003": "blocked"}
    with pytest.raises(Exception, match="(?i)unique"), engine.begin() as conn:
        conn.execute(db.cards.update().where(db.cards.c.number == "10001").values(state="active"))
    engine.dispose()


def test_a_single_shop_at_0006_becomes_the_shop_main_and_keeps_working(database_url):
    """0007_shops: an installation from before shops gets one shop named after its public_name; its devices,
    tokens and device operations are assigned to it; the chain's settings still decide (no own time zone)."""
    from datetime import timedelta

    from alembic import command

    from store_server import devices, shops

    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0006_one_active_card")
        # The demo shop as 0006 knew it (today's seed_demo writes columns later revisions add).
        shop.put(conn, "public_name", "Kavun")
        conn.execute(insert(db.cards), [{"number": "10001", "created_at": NOW}])
        # A bound name: psycopg reads a raw '%' in SQL as a placeholder.
        conn.execute(text("INSERT INTO rules (name, kind, value, priority, combine, active) "
                          "VALUES (:name, 'percent', 1000, 10, true, true)"), {"name": "10% back"})
        shop.put(conn, "timezone", "Asia/Almaty")
        conn.exec_driver_sql(
            "INSERT INTO devices (id, name, role, key_hash, created_at) VALUES "
            "('till-1', 'Till 1', 'cashier', 'k1', '2026-11-20 10:00:00'), "
            "('door', 'Door', 'entrance', 'k2', '2026-11-20 10:00:00')")
        conn.exec_driver_sql(
            "INSERT INTO enrolment_tokens (token_hash, role, expires_at) VALUES ('t1', 'cashier', '2099-01-01')")
        for op_id, device in (("op-till", "till-1"), ("op-gone", "old-till"), ("op-admin", "admin"),
                              ("op-expiry", "server")):
            conn.exec_driver_sql(
                "INSERT INTO operations (id, device_id, type, at, received_at, payload, status) VALUES "
                f"('{op_id}', '{device}', 'sale', '2026-11-20 10:00:00', '2026-11-20 10:00:00', '{{}}', 'applied')")
    assert migrate.upgrade(engine)[1] == migrate.head()
    with engine.connect() as conn:
        assert [(s["code"], s["name"], s["timezone"], s["country"], s["devices"]) for s in shops.listing(conn)] == [
            ("main", "Kavun", None, None, 2)]
        assert dict(conn.execute(select(db.devices.c.id, db.devices.c.shop)).all()) == {
            "till-1": "main", "door": "main"}
        assert conn.execute(select(db.enrolment_tokens.c.shop)).scalar_one() == "main"
        assert dict(conn.execute(select(db.operations.c.id, db.operations.c.shop)).all()) == {
            "op-till": "main", "op-gone": "main", "op-admin": None, "op-expiry": None}
        # the shop follows the chain's settings as before
        assert shops.resolve(conn, "main")["timezone"] == "Asia/Almaty"
        assert shops.resolve(conn, "main")["public_name"] == "Kavun"
    with engine.begin() as conn:
        # no --shop needed while there is one shop
        token = devices.create_enrolment_token(conn, role="cashier", ttl=timedelta(hours=1))
        enrolled = devices.enrol(conn, token=token, name="Till 2", role="cashier")
        assert enrolled["shop"] == "main"
        device = devices.authenticate(conn, enrolled["device_key"])
    result = operations.apply_batch(engine, [{"id": "op-new", "type": "sale", "at": NOW, "payload": {
        "card_number": "10001", "amount": 10000}}], device)
    assert result[0]["status"] == "applied" and result[0]["result"]["accrued"] == 1000
    with engine.connect() as conn:
        assert conn.execute(select(db.operations.c.shop).where(db.operations.c.id == "op-new")).scalar() == "main"
    engine.dispose()


def test_rules_and_tiers_of_a_shop_at_0008_get_their_first_version_in_the_history(database_url):
    """0009_rule_history_card_ranges: the rules and tiers a shop already has become version 1 of their history,
    so editing them goes on from there; cards issued before belong to no recorded range."""
    from alembic import command

    from store_server.ledger import rules, tiers

    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0008_sms_templates_imports")
        conn.exec_driver_sql("INSERT INTO rules (name, kind, value, priority, combine, active, weekdays, valid_to, "
                             "shops) VALUES ('weekend', 'percent', 1500, 5, false, true, '67', '2026-12-31', "
                             "'[\"main\"]')")
        conn.exec_driver_sql("INSERT INTO tiers (name, min_turnover, rate) VALUES ('gold', 100000, 300)")
        conn.execute(insert(db.cards), [{"number": "10001", "created_at": NOW}])
    assert migrate.upgrade(engine)[1] == migrate.head()
    with engine.begin() as conn:
        rule_id = conn.execute(select(db.rules.c.id)).scalar_one()
        (first,) = rules.history(conn, rule_id)
        assert first["version"] == 1 and first["change"] == "created"
        assert first["data"] == {"name": "weekend", "kind": "percent", "value": 1500, "priority": 5, "combine": False,
                                 "active": True, "card_type": None, "weekdays": "67", "time_from": None,
                                 "time_to": None, "valid_from": None, "valid_to": "2026-12-31", "shops": ["main"]}
        assert rules.edit(conn, rule_id, value=2000, by="olga")["version"] == 2
        tier_id = conn.execute(select(db.tiers.c.id)).scalar_one()
        assert [h["data"]["rate"] for h in rules.history(conn, tier_id, "tier")] == [300]
        tiers.edit(conn, tier_id, name="gold", min_turnover=100000, rate=500, by="olga")
        assert [h["version"] for h in rules.history(conn, tier_id, "tier")] == [2, 1]
        assert [r["id"] for r in cards.ranges_with_counts(conn)] == [None]  # issued before ranges were kept
    engine.dispose()
