"""The app built from $STORE_SERVER_CONFIG, for `store-server serve --workers N` (uvicorn imports it by name)."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from ..config import ServerConfig
from .app import create_app


def from_env() -> FastAPI:
    from ..logs import setup

    config = ServerConfig.load()
    setup(config.log_level, config.log_format)  # a worker is a fresh interpreter: its own log set-up
    app = create_app(config)
    settle_heap()
    return app


def settle_heap() -> None:
    """Takes what a serving process built at start (modules, the app, its routes and models: ~130,000 objects)
    out of the cyclic garbage collector's sight. A batch of 500 sales allocates enough to set off collections,
    and each older-generation one walked all of them: ~8 % of a batch's time, 28 ms of 330 at load 14, 5 ms
    after (benchmarks/server_ingest.py). Only for serving processes: a test building many apps keeps collecting.
    """
    gc.collect()
    gc.freeze()
