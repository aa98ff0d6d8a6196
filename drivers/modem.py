"""A USB GSM modem over pyserial: the AT dialogue for sending and reading SMS.

The session (`ATSession`) only frames commands and final result codes with deadlines; `Modem` knows
SMS. Every wait has a deadline, so a hung modem raises `ModemTimeout` instead of blocking the server.
The port is opened with `serial.serial_for_url`, so a real device (/dev/ttyUSB2), a pty (tests) or any
pyserial URL (rfc2217://, socket://) work alike.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

import serial

from .errors import DriverError
from .sms_pdu import GSM7_SINGLE, DeliveredPdu, PduError, SmsPart, decode_deliver, encode_submit, split_message

CTRL_Z, ESC = b"\x1a", b"\x1b"

# 3GPP TS 27.005 §3.2.5 (+CMS) and TS 27.007 §9.2 (+CME): the codes a technician actually meets.
CMS_ERRORS = {
    300: "ME failure", 301: "SMS service reserved", 302: "operation not allowed", 303: "operation not supported",
    304: "invalid PDU mode parameter", 305: "invalid text mode parameter", 310: "SIM not inserted",
    311: "SIM PIN required", 313: "SIM failure", 314: "SIM busy", 315: "SIM wrong", 320: "memory failure",
    321: "invalid memory index", 322: "memory full", 330: "SMSC address unknown", 331: "no network service",
    332: "network timeout", 500: "unknown error",
}
CME_ERRORS = {
    3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted", 11: "SIM PIN required",
    13: "SIM failure", 14: "SIM busy", 15: "SIM wrong", 30: "no network service", 31: "network timeout",
    100: "unknown error",
}
# Worth trying again later or through another gateway; the rest need a person (SIM, PIN, config).
_TRANSIENT = {("CMS", 314), ("CMS", 331), ("CMS", 332), ("CMS", 500), ("CME", 14), ("CME", 30), ("CME", 31),
              ("CME", 100), ("CMS", 300)}


class ModemError(DriverError):
    """Anything that went wrong talking to the modem."""

    retryable = True


class ModemTimeout(ModemError):
    """The modem did not answer in time: hung, wrong port, or wrong baud rate."""


class ModemDisconnected(ModemError):
    """The port is gone or cannot be opened: the modem was unplugged or is used by another program."""


class ModemCommandError(ModemError):
    """The modem answered ERROR, +CMS ERROR: n or +CME ERROR: n."""

    def __init__(self, command: str, kind: Literal["ERROR", "CMS", "CME"], code: int | None) -> None:
        self.command, self.kind, self.code = command, kind, code
        table = CMS_ERRORS if kind == "CMS" else CME_ERRORS
        meaning = table.get(code, "see the modem manual") if code is not None else "no detail"
        label = "ERROR" if kind == "ERROR" else f"+{kind} ERROR: {code}"
        super().__init__(f"modem refused {command}: {label} ({meaning})")
        self.retryable = (kind, code) in _TRANSIENT


_FINAL = re.compile(r"^(OK|ERROR|\+CMS ERROR: ?(.+)|\+CME ERROR: ?(.+)|NO CARRIER)$")


class ATSession:
    """Frames AT commands and their answers on one serial port, with deadlines."""

    def __init__(self, port: serial.SerialBase, *, name: str, timeout: float = 5.0) -> None:
        self.port, self.name, self.timeout = port, name, timeout
        self._buffer = b""
        self.unsolicited: list[str] = []  # e.g. +CMTI lines that arrived between commands

    def _read_some(self, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ModemTimeout(f"modem on {self.name} did not answer {what} within {self.timeout:g} s; "
                               "check it is powered, on this port, and at this baud rate")
        try:
            # The port's own read timeout is short (set at open), so this loop re-checks the deadline.
            chunk = self.port.read(self.port.in_waiting or 1)
        except (serial.SerialException, OSError) as e:
            raise ModemDisconnected(f"modem on {self.name} stopped answering ({e}); is it still plugged in?") from e
        self._buffer += chunk

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as e:
            raise ModemDisconnected(f"cannot write to the modem on {self.name} ({e}); is it plugged in?") from e

    def _next_line(self, deadline: float, what: str) -> str:
        while True:
            match = re.search(rb"\r\n|\r|\n", self._buffer)
            if match:
                line, self._buffer = self._buffer[:match.start()], self._buffer[match.end():]
                text = line.decode("ascii", errors="replace").strip()
                if text:
                    return text
                continue
            self._read_some(deadline, what)

    def wait_for(self, marker: bytes, what: str, timeout: float | None = None) -> None:
        """Wait for a marker that ends no line (the "> " prompt after AT+CMGS)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            if marker in self._buffer:
                self._buffer = self._buffer[self._buffer.index(marker) + len(marker):]
                return
            *complete, self._buffer = re.split(rb"\r\n|\r|\n", self._buffer)
            for raw in complete:  # echo is dropped; a final code instead of the prompt is the answer
                line = raw.decode("ascii", errors="replace").strip()
                if _FINAL.match(line):
                    self._buffer = b""
                    self._raise_if_error(line, what)
                    raise ModemError(f"modem answered {line} to {what} instead of the > prompt")
            self._read_some(deadline, what)

    def _raise_if_error(self, line: str, command: str) -> None:
        m = _FINAL.match(line)
        if not m or m.group(1) == "OK":
            return
        for kind, detail in (("CMS", m.group(2)), ("CME", m.group(3))):
            if detail is not None:
                code = int(detail) if detail.strip().isdigit() else None
                raise ModemCommandError(command, kind, code)
        raise ModemCommandError(command, "ERROR", None)

    def read_result(self, command: str, timeout: float | None = None) -> list[str]:
        """Collect information lines up to the final result code; raise on an error code."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines: list[str] = []
        while True:
            line = self._next_line(deadline, command)
            if line == command:  # echo, while ATE0 has not yet taken effect
                continue
            if _FINAL.match(line):
                self._raise_if_error(line, command)
                return lines
            if line.startswith(("+CMTI:", "+CDSI:", "RING", "^")):
                self.unsolicited.append(line)
                continue
            lines.append(line)

    def command(self, command: str, timeout: float | None = None) -> list[str]:
        self.write(command.encode("ascii") + b"\r")
        return self.read_result(command, timeout)

    def drain(self) -> None:
        """Drop whatever is pending (stale echo, a late answer after a timeout)."""
        self._buffer = b""
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError) as e:
            raise ModemDisconnected(f"modem on {self.name} is gone ({e})") from e


@dataclass(frozen=True)
class ReceivedSms:
    """A message in the modem's storage; a long message has all its parts joined."""

    index: int  # storage slot of the first part
    sender: str  # +380671234567, or an alphanumeric name
    text: str
    received_at: datetime  # service-centre time stamp, with its time zone
    indexes: tuple[int, ...]  # every slot holding a part: delete them all when done
    complete: bool = True  # False while parts of a long message are still missing


class Modem:
    """A GSM modem on a serial port: `send_sms`, `read_messages`, `delete_message`. Thread-safe.

    Opening runs the init dialogue (AT, ATE0, AT+CMEE=1, AT+CMGF) so a dead or wrong port fails at once
    with a clear error. `close()` is safe twice; the class is a context manager.
    """

    def __init__(self, url: str, *, baudrate: int = 115200, timeout: float = 5.0, send_timeout: float = 60.0,
                 opener: Callable[..., serial.SerialBase] = serial.serial_for_url) -> None:
        self.url, self.send_timeout = url, send_timeout
        try:
            self._port = opener(url, baudrate=baudrate, timeout=0.05, write_timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as e:
            raise ModemDisconnected(f"cannot open the modem port {url} ({e}); check the cable, "
                                    "`ls /dev/serial/by-id/`, and that no other program uses it") from e
        self._at = ATSession(self._port, name=url, timeout=timeout)
        self._lock = threading.RLock()
        self._mode: int | None = None
        self._dirty = False
        self._refs = 0
        try:
            self._init()
        except BaseException:
            self.close()
            raise

    def _init(self) -> None:
        with self._operation() as at:
            at.drain()
            # A modem left at the "> " prompt by a crash swallows commands; ESC cancels it.
            at.write(ESC)
            at.command("AT")
            at.command("ATE0")
            at.command("AT+CMEE=1")
            self._set_mode(0)

    def __enter__(self) -> Modem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        port, self._port = getattr(self, "_port", None), None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass  # already unplugged: nothing left to release

    @property
    def closed(self) -> bool:
        return self._port is None

    @contextmanager
    def _operation(self) -> Iterator[ATSession]:
        """One exchange at a time; after a failure, stale bytes are dropped and the mode re-set."""
        with self._lock:
            if self._port is None:
                raise ModemDisconnected(f"modem on {self.url} is closed")
            if self._dirty:
                self._at.drain()
                self._mode, self._dirty = None, False
            try:
                yield self._at
            except ModemError as e:
                self._dirty = not isinstance(e, ModemCommandError)
                raise

    def command(self, command: str, timeout: float | None = None) -> list[str]:
        """Run one AT command and return its information lines (for diagnostics screens)."""
        with self._operation() as at:
            return at.command(command, timeout)

    def _set_mode(self, mode: int) -> None:
        if self._mode != mode:
            self._at.command(f"AT+CMGF={mode}")
            if mode == 1:
                self._at.command('AT+CSCS="GSM"')
            self._mode = mode

    # -- sending ------------------------------------------------------------------------------------

    def send_sms(self, phone: str, text: str, *, mode: Literal["auto", "text", "pdu"] = "auto") -> list[int]:
        """Send `text` to `phone` (E.164); return the message reference of every part sent.

        "auto" uses text mode for a short plain-ASCII message (the simplest thing any modem does) and
        PDU mode otherwise: UCS2 for Cyrillic/Kazakh and concatenated parts for long text, which text
        mode cannot carry.
        """
        try:
            self._refs = (self._refs + 1) % 256
            parts = split_message(text, ref=self._refs)
        except PduError as e:
            raise ModemError(f"cannot send this SMS: {e}") from e
        if mode == "auto":
            mode = "text" if len(parts) == 1 and _text_mode_safe(text) else "pdu"
        if mode == "text" and not (len(parts) == 1 and _text_mode_safe(text)):
            raise ModemError("text mode carries only one plain-ASCII part; use PDU mode")
        with self._operation():
            if mode == "text":
                return [self._send_text(phone, text)]
            return [self._send_pdu(phone, part) for part in parts]

    def _submit(self, command: str, payload: bytes) -> int:
        at = self._at
        at.write(command.encode("ascii") + b"\r")
        try:
            at.wait_for(b"> ", command)
        except ModemTimeout:
            at.write(ESC)  # do not leave the modem waiting for text that will never come
            raise
        at.write(payload + CTRL_Z)
        lines = at.read_result(command, timeout=self.send_timeout)
        for line in lines:
            if line.startswith("+CMGS:"):
                return int(line.split(":", 1)[1].split(",")[0])
        raise ModemError(f"modem accepted {command} but gave no +CMGS reference: {lines!r}")

    def _send_text(self, phone: str, text: str) -> int:
        self._set_mode(1)
        if not re.fullmatch(r"\+?\d{3,20}", phone):
            raise ModemError(f"destination {phone!r} is not a phone number")
        return self._submit(f'AT+CMGS="{phone}"', text.encode("ascii"))

    def _send_pdu(self, phone: str, part: SmsPart) -> int:
        self._set_mode(0)
        try:
            pdu, length = encode_submit(phone, part)
        except PduError as e:
            raise ModemError(f"cannot send this SMS: {e}") from e
        return self._submit(f"AT+CMGS={length}", pdu.encode("ascii"))

    # -- receiving ----------------------------------------------------------------------------------

    def read_messages(self, *, unread_only: bool = False) -> list[ReceivedSms]:
        """All messages in storage (PDU mode), long ones joined, oldest first."""
        with self._operation() as at:
            self._set_mode(0)
            lines = at.command(f"AT+CMGL={0 if unread_only else 4}")
        pieces: list[tuple[int, DeliveredPdu]] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("+CMGL:") and i + 1 < len(lines):
                index = int(line.split(":", 1)[1].split(",")[0])
                try:
                    pieces.append((index, decode_deliver(lines[i + 1])))
                except PduError:
                    pass  # a status report or a corrupt slot: not a customer's message
                i += 2
            else:
                i += 1
        return _join_parts(pieces)

    def read_messages_text_mode(self) -> list[ReceivedSms]:
        """The same in text mode, for modems whose PDU listing is broken. GSM-alphabet text only."""
        with self._operation() as at:
            self._set_mode(1)
            lines = at.command('AT+CMGL="ALL"')
        out, i = [], 0
        while i < len(lines):
            header = _parse_cmgl_text(lines[i])
            if header is None:
                i += 1
                continue
            body: list[str] = []
            i += 1
            while i < len(lines) and _parse_cmgl_text(lines[i]) is None:
                body.append(lines[i])
                i += 1
            index, sender, at = header
            out.append(ReceivedSms(index, sender, "\n".join(body), at, (index,)))
        return out

    def delete_message(self, index: int) -> None:
        with self._operation() as at:
            at.command(f"AT+CMGD={int(index)}")

    def delete_messages(self, indexes: tuple[int, ...] | list[int]) -> None:
        for index in indexes:
            self.delete_message(index)


def _text_mode_safe(text: str) -> bool:
    # Characters whose GSM-7 code equals their ASCII code, so the bytes we type are what is sent.
    return all(ch.isascii() and (ch.isalnum() or ch in " !\"#%&'()*+,-./:;<=>?") for ch in text) and \
        len(text) <= GSM7_SINGLE


_CMGL_TEXT = re.compile(r'^\+CMGL: (\d+),"[^"]*","([^"]*)",[^,]*,"(\d\d)/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d+)"')


def _parse_cmgl_text(line: str) -> tuple[int, str, datetime] | None:
    m = _CMGL_TEXT.match(line)
    if not m:
        return None
    yy, mo, dd, hh, mi, ss = (int(x) for x in m.groups()[2:8])
    tz = timezone(timedelta(minutes=15 * int(m.group(9))))
    return int(m.group(1)), m.group(2), datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=tz)


def _join_parts(pieces: list[tuple[int, DeliveredPdu]]) -> list[ReceivedSms]:
    singles: list[ReceivedSms] = []
    groups: dict[tuple[str, int, int], list[tuple[int, DeliveredPdu]]] = {}
    for index, p in pieces:
        if p.ref is None or p.total <= 1:
            singles.append(ReceivedSms(index, p.sender, p.text, p.sent_at, (index,)))
        else:
            groups.setdefault((p.sender, p.ref, p.total), []).append((index, p))
    for (sender, _ref, total), group in groups.items():
        group.sort(key=lambda item: item[1].seq)
        seqs = {p.seq for _, p in group}
        singles.append(ReceivedSms(
            index=group[0][0], sender=sender, text="".join(p.text for _, p in group),
            received_at=min(p.sent_at for _, p in group), indexes=tuple(i for i, _ in group),
            complete=seqs == set(range(1, total + 1)),
        ))
    return sorted(singles, key=lambda m: (m.received_at, m.index))
