"""Back-office accounts: Argon2 passwords, server-side sessions behind a signed cookie, login throttling.

A wrong password counts against the account (LOCK_AFTER in a row locks it for a while, longer each time)
and against the address (more than ADDRESS_LIMIT in ADDRESS_WINDOW refuses every login from it), so a
guesser can neither hammer one name nor walk through many.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from .. import clock
from ..data.db import admin_accounts, admin_login_failures, admin_sessions
from ..errors import DomainError, TooMany, Unauthorised
from ..security import new_secret

ROLES = ("owner", "operator")
MIN_PASSWORD = 10
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
ADDRESS_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=12)

_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DomainError("password_too_short", f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > 200:
        raise DomainError("password_too_long", "a password has at most 200 characters")


def create(conn: Connection, name: str, role: str, password: str) -> int:
    name = name.strip()
    if not name or len(name) > 64:
        raise DomainError("bad_name", "an account name is 1..64 characters")
    if role not in ROLES:
        raise DomainError("bad_role", f"role must be one of {', '.join(ROLES)}")
    _check_password(password)
    if conn.execute(select(admin_accounts.c.id).where(admin_accounts.c.name == name)).first():
        raise DomainError("account_exists", f"account {name!r} exists already")
    now = clock.now()
    return conn.execute(insert(admin_accounts).values(
        name=name, role=role, password_hash=_hasher.hash(password), created_at=now, password_changed_at=now,
        failed_logins=0)).inserted_primary_key[0]


def set_shops(conn: Connection, name: str, codes: list[str] | None) -> None:
    """Limit an operator to these shops' journal, activations, SMS log and reports (None or empty: every shop).
    An owner sees the whole chain, always."""
    from ..ledger.rules import check_shops

    row = conn.execute(select(admin_accounts.c.id, admin_accounts.c.role).where(admin_accounts.c.name == name)
                       ).mappings().first()
    if row is None:
        raise DomainError("account_not_found", f"no account {name!r}")
    codes = check_shops(conn, codes)
    if codes and row["role"] == "owner":
        raise DomainError("owner_sees_all", "an owner account sees every shop; limit an operator account")
    conn.execute(update(admin_accounts).where(admin_accounts.c.id == row["id"]).values(shops=codes))


def listing(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(admin_accounts).order_by(admin_accounts.c.name)).mappings()]


def authenticate(conn: Connection, name: str, password: str, address: str) -> dict:
    """The account, or Unauthorised / TooMany; every failure is counted in `conn` (commit it either way)."""
    now = clock.now()
    recent = conn.execute(select(func.count()).select_from(admin_login_failures).where(
        admin_login_failures.c.address == address, admin_login_failures.c.at > now - ADDRESS_WINDOW)).scalar_one()
    if recent >= ADDRESS_LIMIT:
        raise TooMany("too_many_logins", "too many wrong passwords from this address; try again later")
    row = conn.execute(select(admin_accounts).where(admin_accounts.c.name == name.strip())).mappings().first()
    if row is not None and row["locked_until"] is not None and clock.aware(row["locked_until"]) > now:
        raise TooMany("account_locked", "this account is locked after wrong passwords; try again later",
                      until=clock.aware(row["locked_until"]).isoformat())
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY, password)
        ok = row is not None and row["disabled_at"] is None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        conn.execute(insert(admin_login_failures).values(address=address, name=name[:64], at=now))
        if row is not None:
            failed = row["failed_logins"] + 1
            # 5 wrong: 15 min; 10 wrong: 30 min; ... a patient guesser gets slower and slower.
            locked = now + LOCK_FOR * (failed // LOCK_AFTER) if failed % LOCK_AFTER == 0 else row["locked_until"]
            conn.execute(update(admin_accounts).where(admin_accounts.c.id == row["id"])
                         .values(failed_logins=failed, locked_until=locked))
        raise Unauthorised("bad_login", "wrong name or password")
    changes: dict = {"failed_logins": 0, "locked_until": None}
    if _hasher.check_needs_rehash(row["password_hash"]):
        changes["password_hash"] = _hasher.hash(password)
    conn.execute(update(admin_accounts).where(admin_accounts.c.id == row["id"]).values(**changes))
    return dict(row)


def change_password(conn: Connection, account_id: int, old: str, new: str) -> None:
    row = conn.execute(select(admin_accounts).where(admin_accounts.c.id == account_id)).mappings().one()
    try:
        _hasher.verify(row["password_hash"], old)
    except (VerificationError, InvalidHashError):
        raise DomainError("bad_password", "the current password is not right") from None
    set_password(conn, account_id, new)


def set_password(conn: Connection, account_id: int, new: str) -> None:
    """Sets a new password and ends every session of the account (a stolen cookie dies with the old one)."""
    _check_password(new)
    conn.execute(update(admin_accounts).where(admin_accounts.c.id == account_id).values(
        password_hash=_hasher.hash(new), password_changed_at=clock.now(), failed_logins=0, locked_until=None))
    conn.execute(delete(admin_sessions).where(admin_sessions.c.account_id == account_id))


def unlock(conn: Connection, name: str) -> None:
    done = conn.execute(update(admin_accounts).where(admin_accounts.c.name == name)
                        .values(failed_logins=0, locked_until=None)).rowcount
    if not done:
        raise DomainError("account_not_found", f"no account {name!r}")


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(conn: Connection, account_id: int, address: str) -> str:
    session_id, now = new_secret(32), clock.now()
    conn.execute(insert(admin_sessions).values(id_hash=_hash(session_id), account_id=account_id, created_at=now,
                                               last_seen_at=now, address=address))
    return session_id


def session_account(conn: Connection, session_id: str) -> dict | None:
    """The signed-in account behind a session id, or None when it ended, idled out or was disabled."""
    row = conn.execute(
        select(admin_accounts, admin_sessions.c.last_seen_at)
        .select_from(admin_sessions.join(admin_accounts, admin_accounts.c.id == admin_sessions.c.account_id))
        .where(admin_sessions.c.id_hash == _hash(session_id))).mappings().first()
    if row is None or row["disabled_at"] is not None:
        return None
    now = clock.now()
    if now - clock.aware(row["last_seen_at"]) > SESSION_IDLE:
        return None
    if now - clock.aware(row["last_seen_at"]) > timedelta(minutes=1):  # one write a minute, not per page
        conn.execute(update(admin_sessions).where(admin_sessions.c.id_hash == _hash(session_id))
                     .values(last_seen_at=now))
    return dict(row)


def set_language(conn: Connection, account_id: int, lang: str) -> None:
    """The account's language: its pages and its next sign-in, on whichever computer."""
    conn.execute(update(admin_accounts).where(admin_accounts.c.id == account_id).values(lang=lang))


def close_session(conn: Connection, session_id: str) -> None:
    conn.execute(delete(admin_sessions).where(admin_sessions.c.id_hash == _hash(session_id)))
