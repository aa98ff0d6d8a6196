"""The back office's audit trail: every action an account takes, with who, when, what and from where."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from .. import clock
from ..data.db import admin_audit


def record(conn: Connection, *, account: str, action: str, target: str | None = None,
           details: dict | None = None, address: str | None = None) -> None:
    conn.execute(insert(admin_audit).values(at=clock.now(), account=account, action=action,
                                            target=(target or "")[:100] or None, details=details or {},
                                            address=address))


def page(conn: Connection, *, before: int | None = None, account: str | None = None, limit: int = 50) -> list[dict]:
    query = select(admin_audit).order_by(admin_audit.c.id.desc()).limit(limit)
    if before:
        query = query.where(admin_audit.c.id < before)
    if account:
        query = query.where(admin_audit.c.account == account)
    return [dict(r) for r in conn.execute(query).mappings()]
