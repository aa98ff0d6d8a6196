"""One boot of the emulator image under qemu-system-aarch64 (QEMU's "virt" board, Cortex-A72, a bochs-display
screen, a USB keyboard standing in for the barcode scanner, an i6300ESB watchdog, no network device), driven through
the serial console (a root shell the test image logs in on ttyAMA0) and the QEMU monitor (screendump, sendkey).

Every wait has a deadline; `close()` kills QEMU whatever happened, so a hung guest never hangs the suite."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

# QEMU key names (HMP sendkey) for what an enrolment QR payload can hold; a USB HID scanner types the same.
_SHIFTED = {":": "semicolon", "?": "slash", "&": "7", "%": "5", "_": "minus", "+": "equal", "~": "grave_accent",
            "!": "1", "@": "2", "#": "3", "$": "4", "*": "8", "(": "9", ")": "0"}
_PLAIN = {"/": "slash", "=": "equal", ".": "dot", "-": "minus", ",": "comma", ";": "semicolon", " ": "spc"}


def key_names(text: str) -> list[str]:
    keys = []
    for ch in text:
        if ch.isascii() and (ch.islower() or ch.isdigit()):
            keys.append(ch)
        elif ch.isascii() and ch.isupper():
            keys.append(f"shift-{ch.lower()}")
        elif ch in _PLAIN:
            keys.append(_PLAIN[ch])
        elif ch in _SHIFTED:
            keys.append(f"shift-{_SHIFTED[ch]}")
        else:
            raise ValueError(f"no key for {ch!r}")
    return keys


def _die_with_parent() -> None:
    """QEMU gets SIGKILL when the test process dies, even by SIGKILL: no guest outlives its test."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# A pure-Python loop that takes about this long on one idle core of a current x86 machine (measured: 0.13-0.16 s).
_REFERENCE_LOOP_S = 0.15


def host_slowness() -> float:
    """How much slower than an idle machine this host runs an emulated guest now, from 1 (idle, fast) to 4.

    The guest's clock is the host's wall clock, so every wait on a guest (udev finding the disk, the store server
    starting, the kiosk's first frame) stretches with the host's per-core speed and with the other work sharing its
    cores. Both are measured: the best of three runs of a fixed loop (the core's speed when it gets one) times the
    load average per core (the share it gets). Capped at 4 so a hang is still a failure within a bounded time."""
    def loop() -> float:
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i * i
        return time.perf_counter() - started

    speed = min(loop() for _ in range(3)) / _REFERENCE_LOOP_S
    share = os.getloadavg()[0] / (os.cpu_count() or 1)
    return min(4.0, max(1.0, speed * max(1.0, share)))


_PROMPT = re.compile(r"^(?:\s*root@loyalty-kiosk:[^\n#]*# ?)+")


class GuestError(AssertionError):
    """The guest did not do what was expected in time; the message carries the serial console's tail."""


class Guest:
    def __init__(self, image_dir: Path, disk: Path, work: Path, *, memory_mb: int = 1536,
                 slowness: float = 1.0, display: str = "bochs-display,romfile=") -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.serial_log = work / "serial.log"
        self.serial_sock = work / "serial.sock"
        self.monitor_sock = work / "monitor.sock"
        cmdline = (image_dir / "cmdline").read_text().strip()
        # Emulation only (the image's cmdline.txt is untouched): under TCG on a shared host the guest is starved
        # for seconds at a time. systemd's 90 s default start timeout (systemd 252 waits that long for a device)
        # dropped such boots into emergency mode (udev had not yet announced /dev/vda1), and PID 1's 14 s
        # hardware-watchdog pings (RuntimeWatchdogSec, right for a Pi) missed their window, so the i6300ESB reset
        # the guest. Both scaled with the host's measured slowness; the watchdog stays armed and driven by PID 1,
        # as on the device. (Units with their own TimeoutStartSec keep it.)
        cmdline += (f" systemd.default_timeout_start_sec={int(300 * slowness)}"
                    f" systemd.watchdog_sec={int(120 * slowness)}")
        self.command = [
            shutil.which("qemu-system-aarch64") or "qemu-system-aarch64",
            "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", str(memory_mb), "-accel", "tcg,thread=multi",
            "-kernel", str(image_dir / "vmlinuz"), "-initrd", str(image_dir / "initrd.img"), "-append", cmdline,
            "-drive", f"if=none,id=disk,format=qcow2,file={disk}", "-device", "virtio-blk-pci,drive=disk",
            # The screen: bochs-display, whose frame buffer is the device's memory that QEMU's screendump reads.
            # With virtio-gpu-pci every screendump of the kiosk (and of a plain Kivy program drawing red and
            # blue) was black: the frames Mesa's GBM makes on it never reach the host's copy of the resource;
            # on bochs-display the same program shows (docs/image.md). romfile=: Debian's QEMU has no option ROM
            # for it, and the direct kernel boot needs none.
            "-device", display, "-display", "none",
            "-device", "qemu-xhci", "-device", "usb-kbd",
            "-device", "i6300esb",
            "-nic", "none",
            "-chardev", f"socket,id=serial,path={self.serial_sock},server=on,wait=off,logfile={self.serial_log}",
            "-serial", "chardev:serial",
            "-monitor", f"unix:{self.monitor_sock},server=on,wait=off",
            # A reboot (kiosk.service's StartLimitAction, a kernel panic) ends QEMU: the test sees it.
            "-no-reboot",
        ]
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.slowness = slowness
        self._serial: socket.socket | None = None
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._marker = 0

    # life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        # A socket left by an earlier boot in this folder (KIOSK_TEST_EMULATOR_IMAGE reuses it) would be taken
        # for QEMU's before QEMU made its own.
        self.serial_sock.unlink(missing_ok=True)
        self.monitor_sock.unlink(missing_ok=True)
        self.started = time.monotonic()
        with open(self.work / "qemu.log", "wb") as log:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        while not (self.serial_sock.exists() and self.monitor_sock.exists()):
            self._check_alive()
            if time.monotonic() > deadline:
                raise GuestError("QEMU made no sockets within 30 s: " + (self.work / "qemu.log").read_text())
            time.sleep(0.1)
        self._serial = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._serial.connect(str(self.serial_sock))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        if self._serial:
            self._serial.close()

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def _check_alive(self) -> None:
        if self.process and self.process.poll() is not None:
            raise GuestError(f"QEMU ended (exit {self.process.returncode}): the guest rebooted, powered off or "
                             f"crashed\n{self.tail()}")

    def _read(self) -> None:
        assert self._serial
        while True:
            try:
                data = self._serial.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._output += data

    def text(self) -> str:
        with self._lock:
            return self._output.decode("utf-8", "replace")

    def tail(self, chars: int = 4000) -> str:
        return "--- serial console (tail) ---\n" + self.text()[-chars:]

    # serial console ---------------------------------------------------------------------------------
    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            found = regex.search(self.text(), start)
            if found:
                return found
            self._check_alive()
            if time.monotonic() > deadline:
                raise GuestError(f"no {pattern!r} on the serial console within {timeout:.0f} s\n{self.tail()}")
            time.sleep(0.5)

    def login(self, timeout: float) -> None:
        """Wait for the autologin root shell, then turn off echo so answers are only the commands' output."""
        self.wait_for(r"root@loyalty-kiosk:[^\n]*# ", timeout)
        self.run("stty -echo cols 250; export SYSTEMD_PAGER= SYSTEMD_COLORS=0 TERM=dumb", timeout=60)

    def run(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a shell command on the serial console; (exit status, output)."""
        self._marker += 1
        n = self._marker
        start = len(self.text())
        # The marker is computed by the shell, so the echoed command line (before stty -echo) never matches.
        line = f"{command} 2>&1; echo \"@@$((7000+{n}))@@ $?\"\n"
        assert self._serial
        self._serial.sendall(line.encode())
        found = self.wait_for(rf"@@{7000 + n}@@ (\d+)", timeout, start)
        output = self.text()[start:found.start()]
        # Drop the echoed command line (only present before `stty -echo` took effect).
        if "@@$((" in output:
            output = output.split("\n", 1)[1] if "\n" in output else ""
        # The shell's prompt after the previous command can arrive after this one was sent (a starved guest):
        # it is not this command's output (with echo off, nothing else starts with it).
        output = _PROMPT.sub("", output.replace("\r", ""))
        return int(found.group(1)), output.strip()

    def check(self, command: str, timeout: float = 60) -> str:
        status, output = self.run(command, timeout)
        if status != 0:
            raise GuestError(f"`{command}` exited {status}:\n{output}")
        return output

    def diagnose(self) -> str:
        """What a technician would look at first; best effort, for a failure's message."""
        parts = []
        for command in ("systemctl list-units --state=failed --no-legend --plain",
                        "systemctl status kiosk-firstboot kiosk-enrol store-server kiosk --no-pager -n 25 -l",
                        "journalctl -b -p warning -o short-monotonic --no-pager | tail -n 60"):
            try:
                parts.append(f"$ {command}\n{self.run(command, timeout=90)[1]}")
            except GuestError as e:
                parts.append(f"$ {command}\n(no answer: {str(e).splitlines()[0]})")
                break
        return "\n".join(parts)

    def poll(self, command: str, timeout: float, interval: float = 3.0) -> str:
        """Run `command` until it succeeds; its output."""
        deadline = time.monotonic() + timeout
        while True:
            status, output = self.run(command, timeout=max(30.0, timeout))
            if status == 0:
                return output
            if time.monotonic() > deadline:
                raise GuestError(f"`{command}` still failing after {timeout:.0f} s (exit {status}):\n{output}")
            time.sleep(interval)

    # monitor ------------------------------------------------------------------------------------------
    def monitor(self, command: str, timeout: float = 30) -> str:
        return self.monitor_all([command], timeout)[0]

    def monitor_all(self, commands: list[str], timeout: float = 60) -> list[str]:
        """Several monitor commands in one connection, each sent once QEMU answered the one before; their
        answers, in order."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mon:
            mon.settimeout(timeout)
            mon.connect(str(self.monitor_sock))

            def until_prompt() -> str:
                answer = b""
                while b"(qemu) " not in answer:
                    chunk = mon.recv(4096)
                    if not chunk:
                        raise GuestError(f"QEMU's monitor closed the connection: {answer[-200:]!r}")
                    answer += chunk
                return answer.decode("utf-8", "replace")

            until_prompt()  # the greeting
            answers = []
            for command in commands:
                mon.sendall(command.encode() + b"\n")
                answers.append(until_prompt())
            return answers

    def screendump(self, png: Path) -> Path:
        from PIL import Image

        ppm = self.work / "screen.ppm"
        ppm.unlink(missing_ok=True)
        self.monitor(f"screendump {ppm}")
        deadline = time.monotonic() + 30
        while not ppm.exists() or ppm.stat().st_size == 0:
            if time.monotonic() > deadline:
                raise GuestError("QEMU wrote no screendump")
            time.sleep(0.2)
        time.sleep(0.5)
        png.parent.mkdir(parents=True, exist_ok=True)
        Image.open(ppm).save(png)
        return png

    def type_text(self, text: str, *, enter: bool = True) -> None:
        """Type on the emulated USB keyboard, the way a USB HID barcode scanner types a code.

        The keys go to QEMU in chunks through one monitor connection: QEMU queues them and paces them itself
        (each held 30 ms, so 60 ms a key, 120 with shift), and the next chunk is sent before the queue runs dry
        (at 80% of its time), so the keys come evenly. (One connection and a sleep per key, on a host at load 9,
        can leave a gap of half a second between two keys, and the scanner reader rightly drops a code whose keys
        stop for that long: a half scan.) QEMU's queue holds 1024 entries, 6 a key, 12 with shift: 40 keys a
        chunk stay far below it."""
        keys = key_names(text) + (["ret"] if enter else [])
        for first in range(0, len(keys), 40):
            chunk = keys[first:first + 40]
            self.monitor_all([f"sendkey {key} 30" for key in chunk])
            time.sleep(0.8 * sum(0.12 if key.startswith("shift-") else 0.06 for key in chunk))
