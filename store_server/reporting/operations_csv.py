"""Reports for the shop or the chain: operations per day, device, cashier or shop, as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ..data.db import devices, operations

GROUPS = ("day", "device", "cashier", "shop")


def _hour(conn: Connection):
    """The UTC hour of an operation as text, 'YYYY-MM-DD HH', the same on both backends."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", operations.c.at), "YYYY-MM-DD HH24")
    return func.substr(func.cast(operations.c.at, devices.c.name.type), 1, 13)  # SQLite keeps UTC text


def _local_days(conn: Connection, rows: list[dict]) -> list[dict]:
    """Hours (UTC) of each shop -> that shop's own days: a sale at 23:30 in Almaty is on Almaty's date, even
    in a report of the whole chain. The chain's operations (back office, expiry) count in the chain's zone.
    (Hour buckets: exact for every zone whose offset is whole hours, as in UA, KZ, UZ and VN.)"""
    from zoneinfo import ZoneInfo

    from .. import shops

    zones: dict[str | None, ZoneInfo] = {}
    merged: dict[tuple, dict] = {}
    for r in rows:
        code = r.pop("shop")
        if code not in zones:
            try:
                zones[code] = ZoneInfo(shops.setting(conn, code, "timezone") or "UTC")
            except Exception:  # noqa: BLE001 - an operation of a shop since gone: the chain's zone
                zones[code] = ZoneInfo(shops.setting(conn, None, "timezone") or "UTC")
        hour = datetime.strptime(r.pop("hour"), "%Y-%m-%d %H").replace(tzinfo=UTC)
        day = hour.astimezone(zones[code]).date().isoformat()
        group = (day, r["type"], r["status"])
        if group in merged:
            merged[group]["count"] += r["count"]
        else:
            merged[group] = {"day": day, "type": r["type"], "status": r["status"], "count": r["count"]}
    return sorted(merged.values(), key=lambda r: (r["day"], r["type"], r["status"]))


def operations_report(conn: Connection, by: str, *, since: datetime | None = None,
                      until: datetime | None = None, shop: str | list[str] | None = None) -> list[dict]:
    """Operations counted per day (each shop's own days), device, cashier or shop, by type and status;
    `shop`: only that shop's (or those shops') operations."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    if by == "day":
        keys = [_hour(conn).label("hour"), operations.c.shop]
    else:
        keys = [{"device": func.coalesce(devices.c.name, operations.c.device_id),
                 "cashier": func.coalesce(operations.c.cashier, ""),
                 "shop": func.coalesce(operations.c.shop, "")}[by].label(by)]
    query = (select(*keys, operations.c.type, operations.c.status, func.count().label("count"))
             .select_from(operations.outerjoin(devices, devices.c.id == operations.c.device_id))
             .group_by(*keys, operations.c.type, operations.c.status).order_by(*keys, operations.c.type))
    if since is not None:
        query = query.where(operations.c.at >= since)
    if until is not None:
        query = query.where(operations.c.at < until)
    if shop is not None:
        query = query.where(operations.c.shop.in_([shop] if isinstance(shop, str) else shop))
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if by == "day":
        return _local_days(conn, rows)
    if by == "cashier":
        # Operations carry the cashier's id; the report names them (what an old till sent stays as it was).
        from ..cashiers import display, names

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
