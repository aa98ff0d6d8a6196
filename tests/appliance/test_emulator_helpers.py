"""The emulator boot's own tools, without an emulator: the keys QEMU gets for an enrolment QR, how they are sent
(one monitor connection a chunk, answered like QEMU's monitor at the socket), and the serial console's late
prompt kept out of a command's output. The boot itself is test_emulator_boot.py (KIOSK_TEST_EMULATOR=1)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.appliance.emulator.qemu import _PROMPT, Guest, key_names

PAYLOAD = "lk://enrol?server=http%3A%2F%2F127.0.0.1%3A8700&token=CGJYaOHpWwd1xYRo&role=entrance"


def test_every_character_of_an_enrolment_qr_has_its_key() -> None:
    keys = key_names(PAYLOAD)
    assert len(keys) == len(PAYLOAD)
    assert keys[:5] == ["l", "k", "shift-semicolon", "slash", "slash"]
    assert "shift-5" in keys and "shift-7" in keys and "shift-c" in keys
    with pytest.raises(ValueError):
        key_names("é")


class FakeMonitor:
    """QEMU's human monitor at its Unix socket: a prompt on connect and after every command."""

    def __init__(self, path: Path) -> None:
        self.connections: list[list[str]] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            commands: list[str] = []
            self.connections.append(commands)
            with conn:
                conn.sendall(b"QEMU 7.2 monitor\r\n(qemu) ")
                buffer = b""
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    buffer += data
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        commands.append(line.decode())
                        conn.sendall(line + b"\r\n(qemu) ")


def test_a_code_is_typed_in_chunks_of_40_keys_one_connection_each(tmp_path: Path) -> None:
    (tmp_path / "cmdline").write_text("root=/dev/vda2\n")
    guest = Guest(tmp_path, tmp_path / "disk.qcow2", tmp_path / "run")
    monitor = FakeMonitor(guest.monitor_sock)
    try:
        text = "ab" * 30  # 60 keys and the Enter: two chunks
        guest.type_text(text)
    finally:
        monitor.server.close()
    sent = [command for connection in monitor.connections for command in connection]
    assert sent == [f"sendkey {key} 30" for key in key_names(text) + ["ret"]]
    assert [len(connection) for connection in monitor.connections] == [40, 21]


def test_a_late_prompt_is_not_output() -> None:
    assert _PROMPT.sub("", "root@loyalty-kiosk:~# success\n").strip() == "success"
    assert _PROMPT.sub("", "root@loyalty-kiosk:~# ").strip() == ""
    assert _PROMPT.sub("", "unit.service loaded failed # note").strip() == "unit.service loaded failed # note"
