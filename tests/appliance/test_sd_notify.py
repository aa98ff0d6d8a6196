"""kiosk.watchdog speaks sd_notify to a real AF_UNIX datagram socket, as systemd would receive it."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import watchdog


@pytest.fixture
def manager_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    # A short directory: AF_UNIX paths are limited to 108 bytes and pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="sdn") as folder:
        path = Path(folder) / "notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        try:
            yield sock
        finally:
            sock.close()


def test_ready_sends_ready_datagram(manager_socket: socket.socket) -> None:
    assert watchdog.ready() is True
    assert manager_socket.recv(4096) == b"READY=1"


def test_ready_with_status_is_one_message(manager_socket: socket.socket) -> None:
    watchdog.ready("attract screen\nshown")
    assert manager_socket.recv(4096) == b"READY=1\nSTATUS=attract screen shown"


def test_ping_sends_watchdog_keepalive(manager_socket: socket.socket) -> None:
    watchdog.ping()
    watchdog.ping()
    assert manager_socket.recv(4096) == b"WATCHDOG=1"
    assert manager_socket.recv(4096) == b"WATCHDOG=1"


def test_status_and_stopping(manager_socket: socket.socket) -> None:
    watchdog.status("outbox: 3 waiting")
    watchdog.stopping()
    assert manager_socket.recv(4096) == b"STATUS=outbox: 3 waiting"
    assert manager_socket.recv(4096) == b"STOPPING=1"


def test_abstract_socket_name(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"kiosk-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert watchdog.ping() is True
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_no_socket_means_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert watchdog.ready() is False
    assert watchdog.ping() is False


def test_vanished_manager_does_not_raise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert watchdog.ping() is False


def test_rejects_malformed_field(manager_socket: socket.socket) -> None:
    with pytest.raises(ValueError):
        watchdog.notify("READY")


def test_interval_is_half_the_watchdog_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog.interval() == 15.0
    assert watchdog.enabled()


def test_interval_ignores_watchdog_meant_for_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog.interval() is None


def test_interval_without_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog.interval() is None
    assert not watchdog.enabled()
