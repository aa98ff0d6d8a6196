"""The anchor of benchmarks/server_lookup.py: a bare FastAPI app answering the card look-up's path with a
constant card view, served by uvicorn with the store server's own settings (its HTTP protocol, no access log)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from store_server.api.limits import GuardedProtocol

CARD = {"number": "100001", "state": "issued", "kind": "bonus", "card_type": None, "discount_percent": None,
        "digital": False, "phone_masked": None, "balance": 4200, "activation_pending": False, "activation": "till",
        "activation_requested_at": None,
        "history": [{"kind": "accrual", "amount": 1400, "at": "2026-11-26T10:00:00+00:00"}] * 3}

app = FastAPI()


@app.get("/api/v1/cards/{number}")
async def card(number: str) -> dict:
    return CARD


@app.get("/api/v1/openapi.json", include_in_schema=False)
async def ready() -> dict:
    return {}


if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    uvicorn.run("benchmarks.bare_app:app" if workers > 1 else app, host="127.0.0.1", port=port, workers=workers,
                log_config=None, access_log=False, http=GuardedProtocol)
