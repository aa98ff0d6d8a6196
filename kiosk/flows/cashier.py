"""Shared by the till's flows: the shop's settings as the device keeps them, and operations this device
made (the till picks the sale to return or cancel from its own outbox)."""

from __future__ import annotations


def shop_config(backend) -> dict:
    return backend.store.get_setting("shop_config", {}) or {}


def local_operations(backend, types: tuple[str, ...], limit: int = 500) -> list[dict]:
    """This device's operations of these types, newest first, except those the server refused."""
    return backend.store.recent_operations(types, limit)
