"""Secrets the server hands out must survive being typed after a command-line flag."""

from __future__ import annotations

from store_server.security import hash_secret, new_secret


def test_no_secret_starts_with_a_dash():
    # One token_urlsafe draw in 64 starts with "-"; `kiosk provision --token -abc` would read it as a flag.
    secrets = [new_secret(9) for _ in range(3000)]
    assert not any(s.startswith("-") for s in secrets)
    assert len(set(secrets)) == len(secrets)


def test_secrets_are_stored_as_hashes():
    secret = new_secret()
    assert hash_secret(secret) == hash_secret(secret) != secret
