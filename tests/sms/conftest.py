"""A provider's remote end on 127.0.0.1: a real HTTP server in a thread answering scripted replies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int
    body: object  # dict/list -> JSON, str -> text
    stall: bool = False  # hold the answer until the test ends, so the client's timeout fires
    delay: float = 0.0  # answer, but only after this many seconds (a slow provider)


@dataclass
class FakeProvider:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def reply(self, status: int, body: object, *, stall: bool = False, delay: float = 0.0) -> None:
        self.replies.append(Reply(status, body, stall, delay))


@contextmanager
def running_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            fake.requests.append(Request(self.command, parts.path, parse_qs(parts.query),
                                         dict(self.headers), self.rfile.read(length)))
            reply = fake.replies.pop(0) if fake.replies else Reply(599, "no reply scripted")
            if reply.stall:
                fake.release.wait(10)
                return
            if reply.delay:
                fake.release.wait(reply.delay)
            body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            data = body.encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/plain" if isinstance(reply.body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as fake:
        yield fake


@pytest.fixture
def second_provider() -> Iterator[FakeProvider]:
    """Another provider's remote end, for failover."""
    with running_provider() as fake:
        yield fake
