"""The card look-up's short way through the server: a plain ASGI layer in front of FastAPI's whole stack.

`GET /api/v1/cards/{number}` is the device API's hottest call (every scan at the entrance and the till). Through
FastAPI's routing, dependency solving, exception and limit middlewares it cost about four times its database
reads. `CardLookups` answers the ordinary case itself, with the route's own parts: the device from this
process's key cache (devices.KeyCache; a key not checked lately is checked as routes.device does, on PostgreSQL
over the look-up's own connections so that it never waits behind the batches), the same
per-device look-up limit (app.state.card_lookups), cards.lookup_own's one statement, the same JSON body, the
same request counters and latency histogram.

Everything else goes on to FastAPI unchanged, where routes.get_card is the one full answer: an unknown or
revoked device key, a device over its limit, a number that is not a card's own (an extra number, a phone's
card QR, an unknown card), anything odd about the request's head, a database error. So errors, their journal
lines and the OpenAPI contract (the route stays declared there) have one source, and
revocation is honoured within device_auth_cache_seconds as before. It sits outside FastAPI's own error
layer (api/app.py), so whatever it could raise itself sends the request on to the route instead.
"""

from __future__ import annotations

import json
import time

from sqlalchemy.exc import TimeoutError as PoolTimeout

from .. import cards, devices
from ..errors import DomainError
from ..metrics import LATENCY, REQUESTS
from ..security import hash_secret
from .limits import SERVER_BUSY, head_problem

PREFIX = "/api/v1/cards/"
ROUTE = "/cards/{number}"  # the label Measure gives the route in /metrics (its template inside the router)


def _json(content: dict) -> bytes:
    # What starlette's JSONResponse writes, byte for byte.
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


class CardLookups:
    def __init__(self, app, state) -> None:
        self.app, self.state = app, state
        # SQLite: in place (see routes.off_the_loop); PostgreSQL: on the loop's own connections, no thread hop.
        self._on_loop = state.engine.dialect.name == "sqlite"
        self._counters: dict[int, object] = {}
        self._latency = LATENCY.labels(ROUTE)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith(PREFIX):
            started = time.perf_counter()
            try:
                answer = await self._answer(scope)
            except Exception:  # noqa: BLE001 - the route meets it again and answers as the contract says
                answer = None
            if answer is not None:
                await self._send(send, *answer, started)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope) -> tuple[int, bytes, list] | None:
        """(status, body, extra headers) of the look-up, or None for the route to answer."""
        number = scope["path"][len(PREFIX):]
        if not number or "/" in number or scope.get("root_path") or head_problem(scope, self.state.limits):
            return None
        key = None
        for name, value in scope["headers"]:
            if name == b"authorization" and key is None:
                key = value
            elif (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
                return None  # a GET with a body: RequestLimits judges it (some clients send Content-Length: 0)
        if key is None or key[:7].lower() != b"bearer ":
            return None
        key = key[7:].decode("latin-1")
        device = self.state.device_keys.get(hash_secret(key))
        if device is None:
            # Not checked in the last device_auth_cache_seconds (a till calls every half minute or so): checked
            # now, as routes.device does; an unknown or revoked key is the route's to refuse and log.
            # On PostgreSQL on the look-up's own connections: through the thread pool the check waited behind
            # the batches for a worker thread and a pooled connection (the chain's look-up p99 spikes).
            if self._on_loop:
                try:
                    device = devices.authenticate_cached(self.state.engine, self.state.device_keys, key)
                except DomainError:
                    return None
            else:
                device = await devices.authenticate_async(self.state.async_reads, self.state.device_keys, key)
                if device is None:
                    return None
        lookups = self.state.card_lookups
        if lookups.wait(device["id"]) is not None:
            return None  # the route refuses it, with its journal line
        try:
            card = (cards.lookup_own(self.state.engine, number) if self._on_loop
                    else await cards.lookup_own_async(self.state.async_reads, number))
        except PoolTimeout:
            # Waiting once more on the way through FastAPI would only make the overload worse.
            return 503, _json(SERVER_BUSY), [(b"retry-after", b"2")]
        if card is None:
            return None
        lookups.add(device["id"])
        if device.get("role") != "cashier":
            card["history"] = []  # as routes.get_card: the unattended entrance shows no purchases
        return 200, _json(card), []

    async def _send(self, send, status: int, body: bytes, extra: list, started: float) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json"), *extra]})
        await send({"type": "http.response.body", "body": body})
        counter = self._counters.get(status)
        if counter is None:
            counter = self._counters[status] = REQUESTS.labels(ROUTE, "GET", str(status))
        counter.inc()
        self._latency.observe(time.perf_counter() - started)
