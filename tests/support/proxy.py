"""A TCP proxy in front of a real store server that misbehaves on demand, at the wire.

Modes: "pass" (forward both ways), "delay" (forward the request, hold the server's answer back for
`delay` seconds: the server applied it, the kiosk times out), "hang" (accept, read, never answer),
"garbage" (answer a captive-portal HTML page), "reset" (accept and close at once), "poison" (a server
with a bug: every request whose body holds `poison` gets a bare HTTP 500, as uvicorn sends for an
unhandled exception; the others are forwarded, one request per connection), "late_close" (forward both ways,
but when the server closes a kept-alive connection the client learns it only from a reset when it next sends
on it: the server's FIN still on its way as the client reuses the connection, made deterministic).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time

from .server import free_port

SERVER_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: 21\r\nConnection: close\r\n\r\nInternal Server Error")
GARBAGE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 44\r\nConnection: close\r\n\r\n"
           b"<html><body>Please log in to Wi-Fi</body></html>")
_UUID = re.compile(rb'"id":\s*"([0-9a-f-]{36})"')


class FaultyProxy:
    def __init__(self, upstream_port: int, mode: str = "pass", delay: float = 2.0) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.mode = mode
        self.delay = delay
        self.poison: bytes = b""  # "poison" mode: requests holding these bytes get a 500
        self.poisoned = 0  # how many requests got it
        self.requests: list[bytes] = []  # what the kiosk sent, per connection, for "same ids" checks
        self.server_closed = threading.Event()  # "late_close": the server closed a connection (set each time)
        self.resets = 0  # "late_close": requests that met a connection the server had closed
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        """Switching drops every open connection, so a kept-alive one cannot slip past the new mode."""
        self.mode = mode
        with self._lock:
            for s in list(self._open):
                _close(s)
            self._open.clear()

    def sent_ids(self) -> list[list[str]]:
        """Operation ids of each batch request the kiosk sent through the proxy, in order."""
        return [[m.decode() for m in _UUID.findall(r)] for r in self.requests if b"operations:batch" in r]

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        self.set_mode("closed")

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._open.add(s)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client, self.mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        try:
            if mode == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return _close(client)
            if mode in ("hang", "garbage"):
                client.recv(65536)
                if mode == "garbage":
                    client.sendall(GARBAGE)
                    return _close(client)
                while not self._closed and mode == self.mode:
                    time.sleep(0.05)
                return _close(client)
            if mode == "poison":
                return self._judge(client)
            if mode == "late_close":
                return self._late_close(client)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._track(upstream)
            record = bytearray()
            self.requests.append(b"")
            index = len(self.requests) - 1
            threading.Thread(target=self._pump, args=(client, upstream, record, index), daemon=True).start()
            self._pump(upstream, client, None, None, hold=self.delay if mode == "delay" else 0.0)
        except OSError:
            _close(client)

    def _judge(self, client: socket.socket) -> None:
        request = _read_request(client)
        self.requests.append(request)
        if self.poison and self.poison in request:
            self.poisoned += 1
            client.sendall(SERVER_ERROR)
            return _close(client)
        # One request per connection: the server closes after its answer, which ends the pump.
        request = re.sub(rb"(?im)^connection:[^\r\n]*\r\n", b"", request, count=1)
        head, _, body = request.partition(b"\r\n\r\n")
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        self._track(upstream)
        upstream.sendall(head + b"\r\nConnection: close\r\n\r\n" + body)
        self._pump(upstream, client, None, None)

    def _late_close(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        self._track(upstream)
        gone = threading.Event()

        def to_server() -> None:
            try:
                while data := client.recv(65536):
                    if gone.is_set():
                        # What the kernel does to data arriving on a socket its program has closed: a reset.
                        self.resets += 1
                        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        break
                    upstream.sendall(data)
            except OSError:
                pass
            _close(client)
            _close(upstream)

        threading.Thread(target=to_server, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            return _close(client)
        gone.set()  # the client's side stays open: its next request finds out
        self.server_closed.set()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bytearray | None, index: int | None,
              hold: float = 0.0) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None:
                    record += data
                    self.requests[index] = bytes(record)
                if hold:
                    time.sleep(hold)
                    hold = 0.0
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)


def _read_request(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    want = len(head) + 4 + (int(length.group(1)) if length else 0)
    while len(data) < want:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _close(s: socket.socket) -> None:
    try:
        s.close()
    except OSError:
        pass
