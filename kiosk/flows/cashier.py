"""Shared by the till's flows: the shop's settings as the device keeps them."""

from __future__ import annotations

from ..client import ServerError


def shop_config(backend) -> dict:
    return backend.store.get_setting("shop_config", {}) or {}


def refresh_shop_config(backend) -> dict:
    """The server's /config now, kept as the device's copy; the copy when the server cannot answer.

    The copy is written at enrolment, and an operator may change the till's right since."""
    try:
        config = backend.client.config()
    except ServerError:
        return shop_config(backend)
    if not isinstance(config, dict):
        return shop_config(backend)
    backend.store.set_setting("shop_config", config)
    return config

