"""Shared by the till's flows: the shop's settings as the device keeps them, and operations this device
made (the till picks the sale to return or cancel from its own outbox)."""

from __future__ import annotations

import json


def shop_config(backend) -> dict:
    return backend.store.get_setting("shop_config", {}) or {}


def local_operations(backend, types: tuple[str, ...], limit: int = 500) -> list[dict]:
    """This device's operations of these types, newest first, except those the server refused."""
    store = backend.store
    marks = ",".join("?" for _ in types)
    with store._lock:  # the store's own lock: the sync thread shares the connection
        rows = list(store.db.query(
            f"select id, type, at, payload, status from outbox where type in ({marks}) and status != 'failed' "
            "order by seq desc limit ?", [*types, limit]))
    return [{"id": r["id"], "type": r["type"], "at": r["at"], "payload": json.loads(r["payload"]),
             "status": r["status"]} for r in rows]
