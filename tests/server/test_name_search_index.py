"""The back office's name search: any part of a name, in any case, on both backends; on PostgreSQL served by
a pg_trgm GIN index whether the database was made new or upgraded from before it (revision 0014)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, text

from store_server.admin.customers import search
from store_server.data import db, migrate

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def index_definition(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_customers_name'")).scalar()


def fill(engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(db.customers), [
            {"id": i + 1, "phone": f"+38050{i:07d}", "name": name, "created_at": NOW}
            for i, name in enumerate(["Оксана Мельник", "Oksana Melnyk", "Taras Boiko", "Petro 100%_off"])])
        conn.execute(insert(db.cards), [{"number": str(10_001 + i), "state": "active", "customer_id": i + 1,
                                         "created_at": NOW} for i in range(4)])


def names(engine, typed: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(r["name"] for r in search(conn, typed, "UA"))


def test_names_are_found_by_any_part_and_on_postgresql_by_trigrams(database_url):
    engine = db.make_engine(database_url)
    db.create_schema(engine)
    fill(engine)
    assert names(engine, "ksan") == ["Oksana Melnyk"]
    assert names(engine, "оксана") == ["Оксана Мельник"]
    assert names(engine, "MELNYK") == ["Oksana Melnyk"]
    assert names(engine, "100%_") == ["Petro 100%_off"] and names(engine, "0%x") == []  # wildcards are literal
    if engine.dialect.name == "postgresql":
        assert "USING gin (name gin_trgm_ops)" in index_definition(engine)
        with engine.connect() as conn:  # what the planner picks when it may not scan the table
            conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(conn.execute(text(
                "EXPLAIN SELECT id FROM customers WHERE name ILIKE '%ksana%'")).scalars())
        assert "ix_customers_name" in plan, plan
    engine.dispose()


def test_an_upgraded_postgresql_database_gets_the_trigram_index(database_url):
    engine = db.make_engine(database_url)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate._config(conn), "0013_report_visits")
    fill(engine)
    migrate.upgrade(engine)
    if engine.dialect.name == "postgresql":
        assert "USING gin (name gin_trgm_ops)" in index_definition(engine)
    assert names(engine, "oksana") == ["Oksana Melnyk"]
    engine.dispose()
