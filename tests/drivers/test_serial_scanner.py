"""Serial / USB-CDC scanners: one suite over two transports, a pty pair (a real tty the scanner opens by
path, as /dev/serial/by-id) and pyserial's loop:// URL."""

from __future__ import annotations

import os
import pty
import threading
import time
import tty
from pathlib import Path

import pytest
import serial

from drivers.scanner.base import ScanQueue
from drivers.scanner.config import ScannerConfig, SerialScannerConfig
from drivers.scanner.keystrokes import Completed, Rejected
from drivers.scanner.serial_scanner import READ_TIMEOUT, LineFramer, SerialScanner, open_port


class PtyScanner:
    """A scanner on the far end of a pty; `port` is a symlink that follows it across replugs."""

    def __init__(self, folder: Path) -> None:
        self.port = str(folder / "scanner")
        self.master = -1
        self.replug()

    def replug(self) -> None:
        self.master, slave = pty.openpty()
        tty.setraw(slave)  # no echo, no CR->LF translation: bytes arrive as the scanner sent them
        name = os.ttyname(slave)
        os.close(slave)
        tmp = self.port + ".new"
        os.symlink(name, tmp)
        os.replace(tmp, self.port)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        os.unlink(self.port)
        os.close(self.master)
        self.master = -1

    def opener(self, config: SerialScannerConfig):
        return open_port(config)

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)


class LoopScanner:
    """pyserial's loop:// port: what is written to it is read back by the scanner."""

    def __init__(self, folder: Path) -> None:
        self.port = "loop://"
        self.current: serial.SerialBase | None = None
        self.plugged = threading.Event()
        self.plugged.set()
        self.opened = threading.Event()

    def opener(self, config: SerialScannerConfig):
        if not self.plugged.is_set():
            raise serial.SerialException("could not open port: [Errno 2] No such file or directory")
        self.current = serial.serial_for_url(config.port, timeout=READ_TIMEOUT)
        self.opened.set()
        return self.current

    def send(self, data: bytes) -> None:
        assert self.opened.wait(3)
        self.current.write(data)

    def unplug(self) -> None:
        self.plugged.clear()
        self.opened.clear()
        self.current.close()  # the reader's next read fails like a vanished device

    def replug(self) -> None:
        self.plugged.set()

    def close(self) -> None:
        pass


@pytest.fixture(params=["pty", "loop"])
def far_end(request, tmp_path):
    end = PtyScanner(tmp_path) if request.param == "pty" else LoopScanner(tmp_path)
    yield end
    end.close()


@pytest.fixture
def run_scanner(far_end):
    running: list[SerialScanner] = []
    rejects: list = []

    def run(**settings) -> tuple[SerialScanner, ScanQueue, list]:
        queue = ScanQueue()
        config = SerialScannerConfig(port=far_end.port, **settings)
        scanner = SerialScanner(config, queue, opener=far_end.opener,
                                on_reject=lambda source, r: rejects.append(r)).start()
        running.append(scanner)
        assert wait_for(lambda: scanner.status()[far_end.port] == "reading")
        return scanner, queue, rejects

    yield run
    for scanner in running:
        scanner.stop()


def wait_for(condition, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def payloads(queue: ScanQueue, n: int, timeout: float = 3.0) -> list[str]:
    out: list[str] = []
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        scan = queue.get(timeout=0.05)
        if scan is not None:
            out.append(scan.payload)
    return out


@pytest.mark.parametrize(("terminator", "suffix"), [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n"),
                                                    ("ANY", b"\r"), ("ANY", b"\n"), ("ANY", b"\r\n")])
def test_scans_end_on_the_configured_terminator(far_end, run_scanner, terminator: str, suffix: bytes) -> None:
    scanner, queue, rejects = run_scanner(terminator=terminator)
    far_end.send(b"10001" + suffix + b"]Q1lk://card/abc" + suffix)
    assert payloads(queue, 2) == ["10001", "]Q1lk://card/abc"]
    assert rejects == []


def test_scans_carry_the_port_as_source_and_the_aim_symbology(far_end, run_scanner) -> None:
    _, queue, _ = run_scanner()
    far_end.send(b"]E05901234123457\r")
    scan = queue.get(timeout=3)
    assert (scan.source, scan.symbology) == (f"serial:{far_end.port}", "]E0")


def test_cr_config_meeting_a_crlf_scanner_loses_nothing(far_end, run_scanner) -> None:
    _, queue, rejects = run_scanner(terminator="CR")
    far_end.send(b"10001\r\n10002\r\n")
    assert payloads(queue, 2) == ["10001", "10002"]
    assert rejects == []


def test_crlf_config_with_a_cr_only_scanner_rejects_instead_of_hanging(far_end, run_scanner) -> None:
    # The pitfall of LineReader's CRLF default: this line never completes. We say so after the timeout.
    _, queue, rejects = run_scanner(terminator="CRLF", partial_timeout=0.2)
    far_end.send(b"10001\r")
    assert wait_for(lambda: rejects)
    assert rejects[0].reason == "partial_timeout" and queue.get() is None


def test_a_scan_split_over_many_reads(far_end, run_scanner) -> None:
    _, queue, _ = run_scanner(terminator="CRLF")
    for chunk in (b"https://shop", b".example/c?card=", b"10042\r", b"\n"):
        far_end.send(chunk)
        time.sleep(0.02)
    assert payloads(queue, 1) == ["https://shop.example/c?card=10042"]


def test_unplug_and_replug_reconnects_with_backoff(far_end, run_scanner) -> None:
    scanner, queue, _ = run_scanner()
    far_end.send(b"10001\r")
    assert payloads(queue, 1) == ["10001"]
    far_end.unplug()
    assert wait_for(lambda: not scanner.status()[far_end.port].startswith("reading"))
    attempts = scanner.open_attempts
    time.sleep(1.0)
    assert 2 <= scanner.open_attempts - attempts <= 8  # 0.05 s doubling: no reopen storm
    far_end.replug()
    assert wait_for(lambda: scanner.status()[far_end.port] == "reading", timeout=5)
    far_end.send(b"10002\r")
    assert payloads(queue, 1) == ["10002"]
    assert scanner.connections == 2


def test_stop_is_prompt_and_safe_twice(far_end, run_scanner) -> None:
    scanner, _, _ = run_scanner()
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 1.0
    assert scanner.status()[far_end.port] == "stopped"
    scanner.stop()


# --- framing without a port ---------------------------------------------------------------------------
def test_framer_accepts_cr_then_lf_in_separate_reads_as_one_terminator() -> None:
    framer = LineFramer(b"")
    assert framer.feed(b"10001\r", 0.0) == [Completed("10001", 0.0)]
    assert framer.feed(b"\n10002\r\n", 0.01) == [Completed("10002", 0.01)]


def test_framer_caps_an_endless_line() -> None:
    framer = LineFramer(b"\r", max_length=16)
    assert framer.feed(b"x" * 40, 0.0) == []
    [rejected] = framer.feed(b"y\r10001\r", 0.1)[:1]
    assert isinstance(rejected, Rejected) and rejected.reason == "too_long"
    assert framer.feed(b"10002\r", 0.2) == [Completed("10002", 0.2)]


def test_framer_keeps_non_utf8_bytes_visible() -> None:
    assert framer_text(b"caf\xe9\r") == "caf\xe9"


def framer_text(data: bytes) -> str:
    [result] = LineFramer(b"\r").feed(data, 0.0)
    return result.payload


def test_serial_config_from_kiosk_toml_names_the_mistake() -> None:
    config = ScannerConfig.from_dict({"serial": [{"port": "/dev/ttyACM0", "baud": 115200, "terminator": "crlf"}]})
    assert config.serial[0].terminator_bytes == b"\r\n"
    with pytest.raises(ValueError, match=r"scanners.serial\[0\].terminator"):
        ScannerConfig.from_dict({"serial": [{"port": "/dev/ttyACM0", "terminator": "ETX"}]})
    with pytest.raises(ValueError, match=r"scanners.serial\[0\].baud"):
        ScannerConfig.from_dict({"serial": [{"port": "/dev/ttyACM0", "baud": "fast"}]})
