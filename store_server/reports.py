"""Reports for the shop: operations per day, device or cashier, as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TextIO

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
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if by == "cashier":
        # Operations carry the cashier's id; the report names them (what an old till sent stays as it was).
        from .cashiers import display, names

        known = names(conn)
        merged: dict[tuple, dict] = {}
        for r in rows:
            r["cashier"] = display(r["cashier"], known)
            group = (r["cashier"], r["type"], r["status"])
            if group in merged:
                merged[group]["count"] += r["count"]
            else:
                merged[group] = r
        rows = sorted(merged.values(), key=lambda r: (r["cashier"], r["type"], r["status"]))
    return rows


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...); a
# cashier's or device's name is typed by people, so text cells get a leading apostrophe (OWASP's advice).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(out: TextIO, columns: list[str], rows: Iterable[dict | Sequence]) -> None:
    """Every CSV the server writes: quoted by `csv` (commas, quotes, newlines stay inside their cell)."""
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, dict) else row
        writer.writerow([safe_cell("" if v is None else v) for v in values])


def to_csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    write_csv(out, columns, rows)
    return out.getvalue()
