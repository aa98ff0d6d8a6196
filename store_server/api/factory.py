"""The app built from $STORE_SERVER_CONFIG, for `store-server serve --workers N` (uvicorn imports it by name)."""

from __future__ import annotations

from fastapi import FastAPI

from ..config import ServerConfig
from .app import create_app


def from_env() -> FastAPI:
    from ..logs import setup

    config = ServerConfig.load()
    setup(config.log_level, config.log_format)  # a worker is a fresh interpreter: its own log set-up
    return create_app(config)
