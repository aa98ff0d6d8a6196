"""The app built from $STORE_SERVER_CONFIG, for `store-server serve --workers N` (uvicorn imports it by name)."""

from __future__ import annotations

from fastapi import FastAPI

from ..config import ServerConfig
from .app import create_app


def from_env() -> FastAPI:
    return create_app(ServerConfig.load())
