"""Reports for the shop: operations per day, device or cashier, as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .db import devices, operations

GROUPS = ("day", "device", "cashier")


def operations_report(conn: Connection, by: str, *, since: datetime | None = None,
                      until: datetime | None = None) -> list[dict]:
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    # The day is cut from the stored UTC timestamp text/timestamp so SQLite and PostgreSQL agree.
    key = {"day": func.substr(func.cast(operations.c.at, devices.c.name.type), 1, 10),
           "device": func.coalesce(devices.c.name, operations.c.device_id),
           "cashier": func.coalesce(operations.c.cashier, "")}[by]
    query = (select(key.label(by), operations.c.type, operations.c.status, func.count().label("count"))
             .select_from(operations.outerjoin(devices, devices.c.id == operations.c.device_id))
             .group_by(key, operations.c.type, operations.c.status).order_by(key, operations.c.type))
    if since is not None:
        query = query.where(operations.c.at >= since)
    if until is not None:
        query = query.where(operations.c.at < until)
    return [dict(r) for r in conn.execute(query).mappings()]


def to_csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
