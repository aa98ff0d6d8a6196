"""A GSM modem on a pty pair that speaks the AT dialogue byte for byte (3GPP TS 27.005 / 27.007).

The driver opens `emulator.port` (a symlink to the pty slave, like /dev/serial/by-id/...). The emulator
answers from a thread: character echo while ATE1, "\\r\\nOK\\r\\n" framing, the "> " prompt after
AT+CMGS, text up to Ctrl-Z (0x1A) or ESC (0x1B), "+CMGS: <mr>", +CMGL listings in PDU and text mode,
AT+CMGR, AT+CMGD. Every SMS it is asked to send is decoded here - with a codec written independently of
drivers/sms_pdu.py, so a bug there cannot hide itself - and kept in `sent`; `messages()` joins the
parts of long messages as a phone would.

Faults: `hang()` (stop answering, optionally only from a given command on), `fail(prefix, answer)`
(answer ERROR / +CMS ERROR: n / +CME ERROR: n to the next matching command), `unplug()` (the port
disappears and the pty is hung up).
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

# 3GPP TS 23.038 default alphabet, written out row by row (columns of the spec's table read downward).
_GSM_ROWS = [
    "@ΔSP0¡P¿p", "£_!1AQaq", '$Φ"2BRbr', "¥Γ#3CScs", "èΛ¤4DTdt", "éΩ%5EUeu", "ùΠ&6FVfv", "ìΨ'7GWgw",
    "òΣ(8HXhx", "ÇΘ)9IYiy", "\nΞ*:JZjz", "Ø\x1b+;KÄkä", "øÆ,<LÖlö", "\ræ-=MÑmñ", "Åß.>NÜnü", "åÉ/?O§oà",
]


def _gsm_table() -> list[str]:
    table = [""] * 128
    for low, row in enumerate(_GSM_ROWS):
        cells = row.replace("SP", " ")
        for high, ch in enumerate(cells):
            table[high * 16 + low] = ch
    return table


GSM = _gsm_table()
GSM_EXT = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]",
           0x40: "|", 0x65: "€"}
GSM_CODE = {ch: i for i, ch in enumerate(GSM) if i != 0x1B}
GSM_EXT_CODE = {ch: i for i, ch in GSM_EXT.items()}


def septets_from_bits(data: bytes, skip_bits: int, count: int) -> list[int]:
    bits = "".join(f"{b:08b}"[::-1] for b in data)  # LSB first, as 23.038 §6.1.2.1 packs them
    return [int(bits[skip_bits + 7 * i: skip_bits + 7 * i + 7][::-1], 2) for i in range(count)]


def bits_from_septets(septets: list[int], skip_bits: int = 0) -> bytes:
    bits = "0" * skip_bits + "".join(f"{s:07b}"[::-1] for s in septets)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))


def gsm_decode(septets: list[int]) -> str:
    out, i = [], 0
    while i < len(septets):
        if septets[i] == 0x1B and i + 1 < len(septets):
            out.append(GSM_EXT.get(septets[i + 1], " "))
            i += 2
        else:
            out.append(GSM[septets[i]])
            i += 1
    return "".join(out)


def gsm_encode(text: str) -> list[int] | None:
    out: list[int] = []
    for ch in text:
        if ch in GSM_CODE:
            out.append(GSM_CODE[ch])
        elif ch in GSM_EXT_CODE:
            out += [0x1B, GSM_EXT_CODE[ch]]
        else:
            return None
    return out


@dataclass(frozen=True)
class SubmittedSms:
    """One SMS-SUBMIT (or text-mode send) as the modem received it."""

    to: str
    text: str
    dcs: int  # 0x00 GSM-7, 0x08 UCS2; text mode records 0x00
    mode: str  # "pdu" or "text"
    concat: tuple[int, int, int] | None  # (reference, total, sequence) from the UDH
    septets_or_octets: int  # TP-UDL as sent
    mr: int
    raw: str  # PDU hex, or the text-mode bytes as typed


def decode_submit(hex_pdu: str) -> tuple[str, str, int, tuple[int, int, int] | None, int]:
    """(destination, text, dcs, concat, udl) of an SMS-SUBMIT with its SMSC prefix."""
    b = bytes.fromhex(hex_pdu)
    p = 1 + b[0]
    first = b[p]
    if first & 0x03 != 0x01:
        raise ValueError(f"not an SMS-SUBMIT: first octet {first:02X}")
    vpf = (first >> 3) & 0x03
    p += 2  # first octet, message reference
    digits, toa = b[p], b[p + 1]
    raw_digits = "".join(f"{x & 0xF:X}{x >> 4:X}" for x in b[p + 2: p + 2 + (digits + 1) // 2])[:digits]
    to = ("+" if toa == 0x91 else "") + raw_digits
    p += 2 + (digits + 1) // 2
    pid, dcs = b[p], b[p + 1]
    del pid
    p += 2
    p += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    udl = b[p]
    ud = b[p + 1:]
    concat, header_len = None, 0
    if first & 0x40:
        header_len = ud[0] + 1
        ies, i = ud[1:header_len], 0
        while i < len(ies):
            if ies[i] == 0x00:
                concat = (ies[i + 2], ies[i + 3], ies[i + 4])
            i += 2 + ies[i + 1]
    if dcs == 0x08:
        if len(ud) != udl:
            raise ValueError(f"UDL {udl} but {len(ud)} octets of user data")
        text = ud[header_len:].decode("utf-16-be")
    elif dcs == 0x00:
        skip = header_len * 8 + (-header_len * 8) % 7
        count = udl - skip // 7
        if len(ud) != (udl * 7 + 7) // 8:
            raise ValueError(f"UDL {udl} septets but {len(ud)} octets of user data")
        text = gsm_decode(septets_from_bits(ud, skip, count))
    else:
        raise ValueError(f"unexpected DCS {dcs:02X}")
    return to, text, dcs, concat, udl


def _semi_octets(digits: str) -> bytes:
    digits += "F" * (len(digits) % 2)
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))


def _scts(when: datetime) -> bytes:
    offset = when.utcoffset() or timedelta(0)
    quarters = int(abs(offset.total_seconds()) // 900)
    stamp = _semi_octets(when.strftime("%y%m%d%H%M%S"))
    tz = int(f"{quarters:02d}"[1] + f"{quarters:02d}"[0], 16) | (0x08 if offset < timedelta(0) else 0)
    return stamp + bytes([tz])


def encode_deliver(sender: str, text: str, when: datetime, concat: tuple[int, int, int] | None) -> str:
    """An SMS-DELIVER as a real SIM stores it: SMSC address, originator, SCTS, UDH for long messages."""
    smsc = bytes([0x07, 0x91]) + _semi_octets("380672000000")
    first = 0x04 | (0x40 if concat else 0)  # DELIVER, no more messages to send
    digits = sender.lstrip("+")
    oa = bytes([len(digits), 0x91 if sender.startswith("+") else 0x81]) + _semi_octets(digits)
    udh = bytes([5, 0, 3, *concat]) if concat else b""
    septets = gsm_encode(text)
    if septets is None:
        dcs, body = 0x08, udh + text.encode("utf-16-be")
        udl = len(body)
    else:
        skip = len(udh) * 8 + (-len(udh) * 8) % 7
        dcs = 0x00
        body = udh + bits_from_septets(septets, skip - len(udh) * 8)
        udl = skip // 7 + len(septets)
    tpdu = bytes([first]) + oa + bytes([0x00, dcs]) + _scts(when) + bytes([udl]) + body
    return (smsc + tpdu).hex().upper()


@dataclass
class StoredSms:
    index: int
    sender: str
    text: str
    when: datetime
    concat: tuple[int, int, int] | None
    unread: bool = True


@dataclass
class _Fault:
    prefix: str
    answer: str | None  # None = hang


@dataclass
class GsmModemEmulator:
    """Start with `start()` (or as a context manager); connect the driver to `port`."""

    workdir: Path
    echo: bool = True  # a modem powers up with ATE1
    cmee: int = 0
    cmgf: int = 0
    cscs: str = "GSM"
    sent: list[SubmittedSms] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    storage: dict[int, StoredSms] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port = str(Path(self.workdir) / "ttyGSM0")
        self._faults: list[_Fault] = []
        self._hung = False
        self._lock = threading.Lock()
        self._mr = 0
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._master: int | None = None
        self._slave: int | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> GsmModemEmulator:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # a USB modem is a raw byte pipe: no line discipline
        os.symlink(os.ttyname(self._slave), self.port)
        self._thread = threading.Thread(target=self._run, name="gsm-modem-emulator", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> GsmModemEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        if self._thread:
            self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        if os.path.islink(self.port):
            os.unlink(self.port)

    def unplug(self) -> None:
        """The USB cable is pulled: the device node vanishes and the open port hangs up."""
        if os.path.islink(self.port):
            os.unlink(self.port)
        os.write(self._stop_w, b"x")
        if self._thread:
            self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    # -- faults and inbox ---------------------------------------------------------------------------

    def hang(self, from_command: str = "") -> None:
        """Stop answering, at once or when a command starting with `from_command` arrives."""
        with self._lock:
            if from_command:
                self._faults.append(_Fault(from_command, None))
            else:
                self._hung = True

    def fail(self, prefix: str, answer: str) -> None:
        """Answer `answer` ("ERROR", "+CMS ERROR: 331", ...) once, to the next command with `prefix`."""
        with self._lock:
            self._faults.append(_Fault(prefix, answer))

    def deliver(self, sender: str, text: str, when: datetime | None = None, *,
                parts: list[str] | None = None, ref: int = 7) -> list[int]:
        """Put a received SMS into SIM storage (split into `parts` when given); return the slots."""
        when = when or datetime(2025, 3, 1, 10, 20, 30, tzinfo=timezone(timedelta(hours=2)))
        slots = []
        with self._lock:
            chunks = parts or [text]
            for seq, chunk in enumerate(chunks, 1):
                index = next(i for i in range(1, 256) if i not in self.storage)
                concat = (ref, len(chunks), seq) if parts else None
                self.storage[index] = StoredSms(index, sender, chunk, when, concat)
                slots.append(index)
        return slots

    def messages(self) -> list[tuple[str, str]]:
        """What the recipients' phones would show: (to, text), long messages joined."""
        out: list[tuple[str, str]] = []
        pending: dict[tuple[str, int], dict[int, str]] = {}
        for sms in self.sent:
            if sms.concat is None:
                out.append((sms.to, sms.text))
                continue
            ref, total, seq = sms.concat
            got = pending.setdefault((sms.to, ref), {})
            got[seq] = sms.text
            if len(got) == total:
                out.append((sms.to, "".join(got[i] for i in range(1, total + 1))))
        return out

    # -- the serial side ----------------------------------------------------------------------------

    def _write(self, text: str | bytes) -> None:
        data = text.encode("latin-1") if isinstance(text, str) else text
        if self._master is not None:
            os.write(self._master, data)

    def _answer(self, final: str, info: list[str] | None = None) -> None:
        out = "".join(f"\r\n{line}\r\n" for line in info or [])
        self._write(out + f"\r\n{final}\r\n")

    def _error(self, kind: str, code: int) -> str:
        if self.cmee == 0:
            return "ERROR"
        return f"+{kind} ERROR: {code}"

    def _run(self) -> None:
        line = b""
        entry: dict | None = None  # set while collecting text after the "> " prompt
        assert self._master is not None
        while True:
            ready, _, _ = select.select([self._master, self._stop_r], [], [])
            if self._stop_r in ready:
                os.read(self._stop_r, 16)
                return
            try:
                data = os.read(self._master, 1024)
            except OSError:
                time.sleep(0.01)  # the slave was closed between driver sessions; wait for the next open
                continue
            for byte in data:
                b = bytes([byte])
                with self._lock:
                    if self._hung:
                        continue
                if entry is not None:
                    if self.echo and b not in (b"\x1a", b"\x1b"):
                        self._write(b)
                    if b == b"\x1b":
                        entry = None
                        self._answer("OK")
                    elif b == b"\x1a":
                        self._finish_entry(entry)
                        entry = None
                    elif b == b"\r" and entry["mode"] == "text":
                        entry["buf"] += b"\n"
                        self._write("\r\n> ")
                    else:
                        entry["buf"] += b
                    continue
                if self.echo:
                    self._write(b)
                if b == b"\r":
                    command = line.decode("latin-1").strip()
                    line = b""
                    if command:
                        entry = self._command(command)
                elif b == b"\n":
                    continue
                elif b == b"\x1b":
                    line = b""
                else:
                    line += b

    def _command(self, command: str) -> dict | None:
        self.commands.append(command)
        with self._lock:
            for fault in self._faults:
                if command.upper().startswith(fault.prefix.upper()):
                    self._faults.remove(fault)
                    if fault.answer is None:
                        self._hung = True
                        return None
                    self._write(f"\r\n{fault.answer}\r\n")
                    return None
        upper = command.upper()
        if not upper.startswith("AT"):
            self._answer("ERROR")
            return None
        body = command[2:]
        ubody = body.upper()
        if ubody in ("", "Z", "I"):
            self._answer("OK", ["SIMCOM_SIM800L"] if ubody == "I" else None)
        elif ubody in ("E0", "E1"):
            self.echo = ubody == "E1"
            self._answer("OK")
        elif ubody.startswith("+CMEE="):
            self.cmee = int(body[6:])
            self._answer("OK")
        elif ubody == "+CMGF?":
            self._answer("OK", [f"+CMGF: {self.cmgf}"])
        elif ubody.startswith("+CMGF="):
            if body[6:] not in ("0", "1"):
                self._answer(self._error("CMS", 303))
            else:
                self.cmgf = int(body[6:])
                self._answer("OK")
        elif ubody.startswith("+CSCS="):
            self.cscs = body[6:].strip('"')
            self._answer("OK")
        elif ubody.startswith(("+CSMP=", "+CNMI=", "+CPMS=")):
            self._answer("OK")
        elif ubody.startswith("+CMGS="):
            arg = body[6:]
            if self.cmgf == 0:
                if not arg.isdigit():
                    self._answer(self._error("CMS", 304))
                    return None
                self._write("\r\n> ")
                return {"mode": "pdu", "length": int(arg), "buf": b""}
            if not (arg.startswith('"') and arg.endswith('"')):
                self._answer(self._error("CMS", 305))
                return None
            self._write("\r\n> ")
            return {"mode": "text", "to": arg.strip('"'), "buf": b""}
        elif ubody.startswith("+CMGL"):
            self._list(body[6:] if "=" in body else "")
        elif ubody.startswith("+CMGR="):
            index = int(body[6:]) if body[6:].isdigit() else -1
            sms = self.storage.get(index)
            if sms is None:
                self._answer(self._error("CMS", 321))
            else:
                self._answer("OK", self._listing(sms, "+CMGR:", with_index=False))
                sms.unread = False
        elif ubody.startswith("+CMGD="):
            index = body[6:].split(",")[0]
            if not index.isdigit() or int(index) not in self.storage:
                self._answer(self._error("CMS", 321))
            else:
                del self.storage[int(index)]
                self._answer("OK")
        elif ubody == "+CSQ":
            self._answer("OK", ["+CSQ: 21,0"])
        else:
            self._answer("ERROR")
        return None

    def _finish_entry(self, entry: dict) -> None:
        raw = entry["buf"].decode("latin-1")
        try:
            if entry["mode"] == "pdu":
                hex_pdu = raw.strip()
                if (len(hex_pdu) // 2) - 1 - int(hex_pdu[:2], 16) != entry["length"]:
                    raise ValueError("length in AT+CMGS does not match the PDU")
                to, text, dcs, concat, udl = decode_submit(hex_pdu)
                record = dict(to=to, text=text, dcs=dcs, mode="pdu", concat=concat, septets_or_octets=udl)
            else:
                if self.cscs == "UCS2":
                    text = bytes.fromhex(raw).decode("utf-16-be")
                    to = bytes.fromhex(entry["to"]).decode("utf-16-be")
                else:
                    text, to = raw, entry["to"]
                record = dict(to=to, text=text, dcs=0, mode="text", concat=None, septets_or_octets=len(text))
        except (ValueError, IndexError, UnicodeDecodeError):
            self._answer(self._error("CMS", 304 if entry["mode"] == "pdu" else 305))
            return
        self._mr = (self._mr + 1) % 256
        self.sent.append(SubmittedSms(mr=self._mr, raw=raw, **record))
        self._answer("OK", [f"+CMGS: {self._mr}"])

    def _list(self, arg: str) -> None:
        arg = arg.strip('"').upper()
        wanted = {"0": "unread", "1": "read", "4": "all", "REC UNREAD": "unread", "REC READ": "read",
                  "ALL": "all"}.get(arg or ("4" if self.cmgf == 0 else "REC UNREAD"))
        if wanted is None or (self.cmgf == 0 and not arg.isdigit()) or (self.cmgf == 1 and arg.isdigit()):
            self._answer(self._error("CMS", 302 if self.cmgf == 0 else 305))
            return
        lines: list[str] = []
        for index in sorted(self.storage):
            sms = self.storage[index]
            if wanted == "all" or (wanted == "unread") == sms.unread:
                lines += self._listing(sms, "+CMGL:")
                sms.unread = False
        # A real listing puts header and PDU on consecutive lines, with no blank line in between.
        self._write("".join(f"\r\n{line}" for line in lines) + ("\r\n" if lines else "") + "\r\nOK\r\n")

    def _listing(self, sms: StoredSms, tag: str, with_index: bool = True) -> list[str]:
        head = f"{tag} {sms.index}," if with_index else f"{tag} "
        if self.cmgf == 0:
            pdu = encode_deliver(sms.sender, sms.text, sms.when, sms.concat)
            smsc_len = int(pdu[:2], 16)
            return [f"{head}{0 if sms.unread else 1},,{len(pdu) // 2 - 1 - smsc_len}", pdu]
        status = "REC UNREAD" if sms.unread else "REC READ"
        offset = sms.when.utcoffset() or timedelta(0)
        quarters = int(offset.total_seconds() // 900)
        stamp = sms.when.strftime("%y/%m/%d,%H:%M:%S") + f"{quarters:+03d}"
        text = sms.text
        if self.cscs == "UCS2" or gsm_encode(text) is None:
            text = text.encode("utf-16-be").hex().upper()
        return [f'{head}"{status}","{sms.sender}","","{stamp}"', text]
