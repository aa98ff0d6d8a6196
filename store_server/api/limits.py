"""What one client may ask of the server: body sizes, how long a request may take to arrive, how many
connections may stay open, how often an unauthenticated address may try to enrol.

Two layers, because they see different things. The HTTP protocol (`GuardedProtocol`, handed to uvicorn)
sees connections and raw bytes: it refuses connections beyond the cap and closes those whose request
head does not arrive in time or grows too large, before any application code runs. The ASGI middleware
(`RequestLimits`) sees requests: it answers 413 for a body that is declared or turns out too large, 408
for one that trickles in too slowly, and 429 to an address that keeps trying to enrol. Every refusal is
the documented error shape `{error, message}`.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import time
from dataclasses import dataclass, fields

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import DomainError
from .shared_limits import SharedWindow

KIB = 1024


@dataclass
class Limits:
    # A kiosk's batch of 500 sales is about 100 KiB; a registration with a long questionnaire a few KiB.
    max_body_bytes: int = 1024 * KIB
    # Calls anyone can make without a device key (enrolment, provider webhooks) get far less.
    max_anonymous_body_bytes: int = 64 * KIB
    # One operation's payload as stored in the audit table, and how deeply it may nest.
    max_payload_bytes: int = 8 * KIB
    max_payload_depth: int = 8
    # The request line and headers: a device sends well under 1 KiB.
    max_header_bytes: int = 16 * KIB
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    # How long an idle kept-alive connection stays open. A client that reuses a connection just as the server
    # closes it gets a reset (HTTP/1.1 cannot tell "closing" from "idle"), so the server must be the LAST to give
    # up on an idle connection: longer than a kiosk's 30 s heartbeat and a till's pace between scans, and longer
    # than a proxy's idle limit for its upstream connections (deploy/nginx: 60 s). uvicorn's own default is 5 s.
    keep_alive_seconds: float = 75.0
    # Open connections per server process; capped below the process's open-file limit at start.
    max_connections: int = 1000
    # Failed enrolment attempts per client address per minute (all server processes together).
    enrol_failures_per_minute: int = 10
    # Card look-ups per device per minute (all server processes together): a kiosk shows a card every few seconds and
    # refreshes at most 50 cached cards a round; walking the card numbers takes far more.
    card_lookups_per_minute: int = 300

    @classmethod
    def from_settings(cls, raw: dict | None) -> Limits:
        raw = dict(raw or {})
        known = {f.name: f for f in fields(cls)}
        unknown = set(raw) - set(known)
        if unknown:
            raise DomainError("bad_limits", f"unknown limit(s): {', '.join(sorted(unknown))}")
        for key, value in raw.items():
            kind = float if known[key].type == "float" else int
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (
                    kind is int and not isinstance(value, int)):
                what = "number" if kind is float else "whole number"
                raise DomainError("bad_limits", f"{key} must be a positive {what}")
        return cls(**raw)


# The protocol objects are created by uvicorn, not by us: they read the limits of the app this process
# serves. `configure` is called by create_app, in every worker process.
ACTIVE = Limits()


def configure(limits: Limits) -> Limits:
    global ACTIVE
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:  # the unit sets LimitNOFILE; take what we are allowed
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    except (ValueError, OSError):
        soft = 1024
    # Room for the database, log files and the listening socket: past this, accept() would fail with
    # EMFILE and the server would stop answering everyone.
    room = max(16, soft - 64) if soft != resource.RLIM_INFINITY else limits.max_connections
    ACTIVE = Limits(**{**limits.__dict__, "max_connections": min(limits.max_connections, room)})
    return ACTIVE


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message}).encode()


def raw_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = error_body(code, message)
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n").encode() + body


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a connection cap, a deadline and a size cap for the request head."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = ACTIVE.keep_alive_seconds  # uvicorn's Config says 5 s; [limits] says ours

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # With `--workers N` uvicorn binds the socket itself as socket(AF_INET) (proto 0), and asyncio
            # sets TCP_NODELAY only on sockets whose proto says TCP: every answer (head and body written
            # apart) then waited for the client's delayed ACK, 40 ms a request, 1,100 requests/s at most.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self.connections) > ACTIVE.max_connections:
            transport.write(raw_response(503, "Service Unavailable", "too_many_connections",
                                         "the server has too many open connections; try again shortly"))
            transport.close()
            return
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(ACTIVE.header_timeout_seconds, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            # No answer: a client this slow is either gone or an attacker holding the connection.
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        reading_head = self._head_timer is not None
        super().data_received(data)
        if not reading_head or self._head_timer is None:
            return  # the head completed in this chunk: what followed it was body
        self._head_bytes += len(data)
        if self._head_bytes > ACTIVE.max_header_bytes and not self.transport.is_closing():
            self._disarm_head_timer()
            self.transport.write(raw_response(431, "Request Header Fields Too Large", "headers_too_large",
                                              f"request line and headers over {ACTIVE.max_header_bytes} bytes"))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()  # the next request on a kept-alive connection gets its own deadline

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int) -> None:
        super().__init__(413, f"the request body is over {cap} bytes")


class BodyTooSlow(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body did not arrive within {seconds:g} s")


ANONYMOUS_PATHS = ("/api/v1/devices/enrol", "/api/v1/sms/")

# The answer of a server whose every database connection stays busy for pool_timeout_seconds: an overload,
# not a fault; the device retries (the kiosk's outbox, the till's look-up).
SERVER_BUSY = {"error": "server_busy", "message": "the server is busy; try again shortly"}


def head_problem(scope, limits: Limits) -> tuple[int, str, str] | None:
    """(status, code, message) refusing a request by its line and headers alone, or None."""
    raw_path, query = scope.get("raw_path") or b"", scope.get("query_string") or b""
    head = len(raw_path) + len(query) + sum(len(k) + len(v) + 4 for k, v in scope["headers"])
    if head > limits.max_header_bytes:  # a head that arrived whole; GuardedProtocol stops endless ones
        return 431, "headers_too_large", f"request line and headers over {limits.max_header_bytes} bytes"
    if b"%00" in raw_path or b"%00" in query:
        # A NUL in a card number or receipt would reach PostgreSQL, which refuses it inside the query.
        return 400, "bad_request", "the address contains a NUL character"
    return None


class RequestLimits:
    """ASGI middleware: body size and arrival time, and the enrolment rate per address."""

    def __init__(self, app, limits: Limits, engine) -> None:
        self.app = app
        self.limits = limits
        # Counted in the database: with several server processes (or hosts) the limit is still the setting.
        self.enrolments = SharedWindow(engine, "enrol_failure", limits.enrol_failures_per_minute)

    async def _refuse(self, send, status: int, code: str, message: str, headers: list | None = None) -> None:
        body = error_body(code, message)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close"), *(headers or [])]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        problem = head_problem(scope, self.limits)
        if problem is not None:
            await self._refuse(send, *problem)
            return
        cap = (self.limits.max_anonymous_body_bytes if path.startswith(ANONYMOUS_PATHS)
               else self.limits.max_body_bytes)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0:
                await self._refuse(send, 400, "bad_request", "Content-Length is not a number")
                return
            if size > cap:
                # Answered before a byte of the body is read: the client learns at once, memory stays flat.
                await self._refuse(send, 413, "body_too_large", f"the request body is over {cap} bytes")
                return
        if path == "/api/v1/devices/enrol" and scope["method"] == "POST":
            # Failed attempts count (a wrong or used token, a bad body): a technician enrolling twenty
            # devices with good tokens is never slowed, someone trying tokens is.
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.enrolments.wait(client)
            if wait is None:  # not over the limit as far as this process knows: ask what the others counted
                await run_in_threadpool(self.enrolments.sync, client)
                wait = self.enrolments.wait(client)
            if wait is not None:
                await self._refuse(send, 429, "too_many_requests",
                                   "too many failed enrolment attempts from this address; try again later",
                                   [(b"retry-after", str(max(1, round(wait))).encode())])
                return
            inner_send = send

            async def send(message):  # noqa: F811 - the same send, watching the answer's status
                if message["type"] == "http.response.start" and message["status"] >= 400:
                    self.enrolments.add(client)
                    await run_in_threadpool(self.enrolments.flush)  # the other processes see it at once
                await inner_send(message)

        received, complete = 0, False
        deadline = time.monotonic() + self.limits.body_timeout_seconds

        async def limited_receive():
            nonlocal received, complete
            if complete:  # after the body only a disconnect can come; no deadline on waiting for it
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                raise BodyTooSlow(self.limits.body_timeout_seconds) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


# Built once: json.dumps with any option builds a new encoder per call (a quarter of this check's time for a
# batch of 500). encode() keeps no state between calls, so threads may share it.
_SIZE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def payload_problem(payload: object, limits: Limits) -> tuple[str, str] | None:
    """Why an operation's payload cannot be stored (too large, too deep), or None when it can."""
    size = len(_SIZE_ENCODER.encode(payload).encode())
    if size > limits.max_payload_bytes:
        return "payload_too_large", f"the operation's payload is {size} bytes, over {limits.max_payload_bytes}"
    if _depth(payload) > limits.max_payload_depth:
        return "payload_too_deep", f"the operation's payload nests deeper than {limits.max_payload_depth} levels"
    return None


def _depth(value: object) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest
