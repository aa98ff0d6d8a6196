"""Secrets the server hands out (device keys, tokens) and how it stores them: only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(nbytes: int = 32) -> str:
    # A technician types or pastes these after a flag (`kiosk provision --token ...`): one starting with "-"
    # would be read as an option, so such draws are thrown away (it costs a sixty-fourth of the entropy bit).
    while True:
        secret = secrets.token_urlsafe(nbytes)
        if not secret.startswith("-"):
            return secret


def hash_secret(secret: str) -> str:
    # Device keys and tokens are high-entropy random strings, so a plain SHA-256 is enough:
    # there is nothing to brute-force that a slow hash would protect.
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed_hash(key: str, *parts: str) -> str:
    """HMAC for low-entropy secrets (6-digit codes): useless without the server's key."""
    return hmac.new(key.encode(), "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
