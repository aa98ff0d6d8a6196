"""Devices: one-time enrolment tokens, per-device keys (stored hashed), roles, revocation."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from . import clock
from .data.db import HotRead, device_status, devices, enrolment_tokens, lock_key
from .errors import DomainError, Forbidden, Unauthorised
from .security import hash_secret, new_secret

ROLES = ("entrance", "cashier")


def create_enrolment_token(conn: Connection, *, role: str, ttl: timedelta = timedelta(hours=24),
                           shop: str | None = None) -> str:
    """A one-time token enrolling one device of `role` into `shop` (default: the only shop; several shops
    must be named, shops.pick says so)."""
    from . import shops

    if role not in ROLES:
        raise DomainError("bad_role", f"role must be one of {', '.join(ROLES)}")
    shop = shops.pick(conn, shop)
    token = new_secret(12)
    conn.execute(insert(enrolment_tokens).values(
        token_hash=hash_secret(token), role=role, expires_at=clock.now() + ttl, shop=shop))
    return token


def enrol(conn: Connection, *, token: str, name: str, role: str) -> dict:
    if role not in ROLES:
        raise DomainError("bad_role", f"role must be one of {', '.join(ROLES)}")
    row = conn.execute(select(enrolment_tokens).where(enrolment_tokens.c.token_hash == hash_secret(token))
                       ).mappings().first()
    if row is None or row["used_at"] is not None:
        raise Unauthorised("enrolment_token_invalid", "the enrolment token is unknown or already used")
    if clock.now() > clock.aware(row["expires_at"]):
        raise Unauthorised("enrolment_token_expired", "the enrolment token has expired; create a new one")
    if not row["role"]:
        # Tokens from before roles were required: which role a device gets is the operator's call, not
        # the device's; a token that does not say so enrols nothing.
        raise Forbidden("enrolment_token_without_role", "this token names no role; create one with --role")
    if row["role"] != role:
        raise DomainError("role_not_allowed", f"this token enrols a {row['role']} device only")
    device_id, key = str(uuid.uuid4()), new_secret(32)
    now = clock.now()
    # Claimed before the device exists, and only if still unused: a token double-tapped at two kiosks (or
    # sent to two server processes) enrols one device, the other gets enrolment_token_invalid.
    claimed = conn.execute(update(enrolment_tokens).where(
        enrolment_tokens.c.token_hash == row["token_hash"], enrolment_tokens.c.used_at.is_(None),
    ).values(used_at=now, device_id=device_id)).rowcount
    if claimed != 1:
        raise Unauthorised("enrolment_token_invalid", "the enrolment token is unknown or already used")
    conn.execute(insert(devices).values(id=device_id, name=name, role=role, key_hash=hash_secret(key),
                                        created_at=now, shop=row["shop"]))
    return {"device_id": device_id, "device_key": key, "role": role, "shop": row["shop"]}


_BY_KEY = select(devices).where(devices.c.key_hash == bindparam("key_hash"))
_BY_KEY_HOT = HotRead(_BY_KEY)


def authenticate(conn: Connection, key: str | None) -> dict:
    if not key:
        raise Unauthorised("no_device_key", "this device is not enrolled")
    row = conn.execute(_BY_KEY, {"key_hash": hash_secret(key)}).mappings().first()
    if row is None:
        raise Unauthorised("device_key_invalid", "unknown device key")
    if row["revoked_at"] is not None:
        raise Unauthorised("device_revoked", "this device was revoked; enrol it again")
    return dict(row)


class KeyCache:
    """Device keys this process has checked, trusted for `seconds`: the device API's calls skip the devices
    table, and a revocation (by the CLI, the back office or another process) is honoured within `seconds`.

    Keyed by the key's hash, so no key stays in memory longer than its request; bounded so that a client
    sending random keys cannot grow it (unknown keys are never cached)."""

    def __init__(self, seconds: float, max_keys: int = 10_000) -> None:
        self.seconds, self.max_keys = seconds, max_keys
        self._known: dict[str, tuple[float, dict]] = {}

    def get(self, key_hash: str) -> dict | None:
        hit = self._known.get(key_hash)
        if hit is None or hit[0] <= time.monotonic():
            return None
        return dict(hit[1])  # routes may add to their copy

    def put(self, key_hash: str, device: dict) -> None:
        if self.seconds <= 0:
            return
        now = time.monotonic()
        if len(self._known) >= self.max_keys:
            self._known = {k: v for k, v in self._known.items() if v[0] > now}
            if len(self._known) >= self.max_keys:
                self._known.clear()
        self._known[key_hash] = (now + self.seconds, dict(device))

    def forget(self, device_id: str) -> None:
        """A revocation made through this process takes effect at once here (others wait `seconds`)."""
        self._known = {k: v for k, v in self._known.items() if v[1]["id"] != device_id}


async def authenticate_async(reads, cache: KeyCache, key: str) -> dict | None:
    """authenticate_cached on PostgreSQL from the event loop (data.async_reads), for the card look-up's short
    way: a till scans a card every half minute or so, past the cache's few seconds, so most look-ups check
    their key. Through the thread pool that check queued behind the batches for a worker thread and a pooled
    connection (the chain benchmark's look-up p99 spikes). None for a key that is unknown or revoked: the
    route refuses it, with its journal line."""
    key_hash = hash_secret(key)
    rows = await reads.rows(_BY_KEY_HOT, {"key_hash": key_hash})
    if not rows or rows[0]["revoked_at"] is not None:
        return None
    device = rows[0]
    cache.put(key_hash, device)
    return dict(device)


def authenticate_cached(engine, cache: KeyCache, key: str | None) -> dict:
    if not key:
        raise Unauthorised("no_device_key", "this device is not enrolled")
    key_hash = hash_secret(key)
    device = cache.get(key_hash)
    if device is None:
        with engine.connect() as conn:
            device = authenticate(conn, key)
        cache.put(key_hash, device)
    return device


_NOW = select(devices.c.shop, devices.c.revoked_at).where(devices.c.id == bindparam("id"))


def current(conn: Connection, device: dict) -> dict:
    """`device` (from the key cache, up to device_auth_cache_seconds old) as the database has it now, read in
    the batch's own transaction: operations are recorded in the shop the device works in when they are
    booked, even just after `devices move`, and a revoked device books nothing more. A device with no row
    (the back office, the server itself) stays as it is."""
    row = conn.execute(_NOW, {"id": device["id"]}).first()
    if row is None:
        return device
    if row.revoked_at is not None:
        raise Unauthorised("device_revoked", "this device was revoked; enrol it again")
    return device if row.shop == device.get("shop") else {**device, "shop": row.shop}


def move(conn: Connection, device_id: str, shop: str) -> None:
    """A device now works in another shop; what it did before stays recorded where it happened."""
    from . import shops

    shops.get(conn, shop)
    if not conn.execute(update(devices).where(devices.c.id == device_id).values(shop=shop)).rowcount:
        raise DomainError("unknown_device", f"no device {device_id!r}")


def revoke(conn: Connection, device_id: str) -> None:
    conn.execute(update(devices).where(devices.c.id == device_id).values(revoked_at=clock.now()))


def record_heartbeat(conn: Connection, device_id: str, status: dict) -> None:
    from datetime import UTC, datetime

    error_at = status.get("last_sync_error_at")
    values = dict(last_seen_at=clock.now(), app_version=status.get("app_version"),
                  outbox_pending=status.get("outbox_pending"), outbox_failed=status.get("outbox_failed"),
                  last_sync_error=status.get("last_sync_error"),
                  last_sync_error_at=datetime.fromtimestamp(error_at, UTC) if error_at else None)
    lock_key(conn, "device-status", device_id)  # two heartbeats of one device in two processes: one inserts
    if conn.execute(update(device_status).where(device_status.c.device_id == device_id).values(**values)).rowcount:
        return
    conn.execute(insert(device_status).values(device_id=device_id, **values))


def listing(conn: Connection, shops: list[str] | None = None) -> list[dict]:
    """Devices with what they last reported, newest enrolment first; only those of `shops` when given."""
    query = (select(devices.c.id, devices.c.name, devices.c.role, devices.c.shop, devices.c.created_at,
                    devices.c.revoked_at,
                    device_status.c.last_seen_at, device_status.c.app_version, device_status.c.outbox_pending,
                    device_status.c.outbox_failed, device_status.c.last_sync_error,
                    device_status.c.last_sync_error_at)
             .select_from(devices.outerjoin(device_status, device_status.c.device_id == devices.c.id))
             .order_by(devices.c.revoked_at.is_not(None), devices.c.created_at.desc()))
    if shops is not None:
        query = query.where(devices.c.shop.in_(shops))
    return [dict(r) for r in conn.execute(query).mappings()]
