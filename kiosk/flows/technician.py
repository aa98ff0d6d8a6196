"""The technician's corner, behind a PIN: enrolment, role, self-test, sync status, failed operations,
factory reset. Plain state; the screens draw it.

The PIN is kept hashed in the local store (settings `technician_pin`: salt + PBKDF2); wrong tries are
counted there too, so pulling the plug does not reset the lockout.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import enrol as enrolment
from .. import logbook
from ..client import BadResponse, ServerRefused, ServerUnreachable
from .entry import DigitEntry

PIN_LENGTH = (4, 8)
MAX_TRIES = 5
LOCKOUT_SECONDS = 300
DEFAULT_PIN = "2580"  # first boot only: the technician is asked to change it (docs/architecture.md)
ROLES = ("entrance", "cashier")
SELF_TEST_ITEMS = ("scanner", "leds", "buzzer", "touch")
TOUCH_GRID = (4, 3)  # columns x rows of the touch test: every cell must be touched once


def _hash(pin: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, 100_000).hex()


class PinLock:
    def __init__(self, store, *, clock=time.time) -> None:
        self.store, self.clock = store, clock
        self.entry = DigitEntry(PIN_LENGTH[1])
        self.error: str | None = None

    def _record(self) -> dict:
        record = self.store.get_setting("technician_pin")
        if record is None:
            record = self._new_record(DEFAULT_PIN)
            self.store.set_setting("technician_pin", record)
        return record

    @staticmethod
    def _new_record(pin: str) -> dict:
        salt = os.urandom(16)
        return {"salt": salt.hex(), "hash": _hash(pin, salt), "failures": 0, "locked_until": 0,
                "default": pin == DEFAULT_PIN}

    def is_default(self) -> bool:
        """Still the PIN every kiosk ships with (and the docs print): anyone may know it."""
        record = self._record()
        if "default" in record:
            return bool(record["default"])
        return hmac.compare_digest(_hash(DEFAULT_PIN, bytes.fromhex(record["salt"])), record["hash"])

    def locked_for(self) -> int:
        record, now = self._record(), self.clock()
        if record["locked_until"] - now > LOCKOUT_SECONDS:
            # The wall clock went back (NTP after a boot without the RTC, a technician setting it): a lockout
            # is never longer than its five minutes, counted again from now, not a year.
            record = {**record, "locked_until": now + LOCKOUT_SECONDS}
            self.store.set_setting("technician_pin", record)
        return max(0, int(record["locked_until"] - now + 0.999))

    def press(self, key: str) -> None:
        self.error = None
        self.entry.press(key)

    def submit(self) -> bool:
        record = self._record()
        pin, self.entry.text = self.entry.text, ""
        if self.locked_for():
            self.error = "pin_locked"
            return False
        if hmac.compare_digest(_hash(pin, bytes.fromhex(record["salt"])), record["hash"]):
            self.store.set_setting("technician_pin", {**record, "failures": 0, "locked_until": 0})
            return True
        failures = record["failures"] + 1
        locked_until = self.clock() + LOCKOUT_SECONDS if failures >= MAX_TRIES else 0
        self.store.set_setting("technician_pin", {**record, "failures": 0 if locked_until else failures,
                                                  "locked_until": locked_until})
        self.error = "pin_locked" if locked_until else "wrong_pin"
        return False

    def tries_left(self) -> int:
        return MAX_TRIES - self._record()["failures"]

    def change(self, new_pin: str) -> bool:
        if not (new_pin.isdigit() and PIN_LENGTH[0] <= len(new_pin) <= PIN_LENGTH[1]):
            self.error = "bad_pin"
            return False
        self.store.set_setting("technician_pin", self._new_record(new_pin))
        return True


class PinChange:
    """A new technician PIN, typed twice. Forced after a login with the default PIN, offered in the menu."""

    def __init__(self, lock: PinLock, *, forced: bool = False) -> None:
        self.lock, self.forced = lock, forced
        self.entry = DigitEntry(PIN_LENGTH[1])
        self.first: str | None = None  # the new PIN once typed; None while it is being typed
        self.error: str | None = None
        self.done = False

    @property
    def repeating(self) -> bool:
        return self.first is not None

    def press(self, key: str) -> None:
        self.error = None
        self.entry.press(key)

    def submit(self) -> bool:
        """True once the PIN is changed."""
        pin, self.entry.text = self.entry.text, ""
        if self.first is None:
            if not (pin.isdigit() and PIN_LENGTH[0] <= len(pin) <= PIN_LENGTH[1]):
                self.error = "bad_pin"
            elif pin == DEFAULT_PIN:
                self.error = "pin_is_default"
            else:
                self.first = pin
            return False
        if pin != self.first:
            self.first, self.error = None, "pins_differ"  # start again: which of the two was mistyped is unknown
            return False
        self.done = self.lock.change(pin)
        self.error = None if self.done else self.lock.error  # the lock's own error may be a login's, long past
        return self.done


@dataclass
class SelfTest:
    passed: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SELF_TEST_ITEMS, False))
    touched: set[tuple[int, int]] = field(default_factory=set)
    last_scan: str | None = None

    def scanned(self, payload: str) -> None:
        self.last_scan, self.passed["scanner"] = payload, True

    def confirm(self, item: str) -> None:
        """The technician saw the LEDs blink / heard the buzzer."""
        self.passed[item] = True

    def touch(self, column: int, row: int) -> None:
        self.touched.add((column, row))
        self.passed["touch"] = len(self.touched) == TOUCH_GRID[0] * TOUCH_GRID[1]

    @property
    def all_passed(self) -> bool:
        return all(self.passed.values())


class TechnicianFlow:
    def __init__(self, backend, *, state_dir: Path, role: str, config_path: Path | None = None) -> None:
        self.backend, self.state_dir, self.role = backend, Path(state_dir), role
        self.config_path = config_path  # kiosk.toml; None: $KIOSK_CONFIG or /etc/kiosk/kiosk.toml, as `kiosk run`
        self.error: str | None = None
        self.self_test = SelfTest()
        self.reset_armed = False

    # enrolment ----------------------------------------------------------------------------------
    def enrol(self, server_url: str, token: str, *, name: str = "kiosk") -> bool:
        """Enrols with the server named by the enrolment QR (or typed), the way `kiosk provision` does
        (kiosk.enrol: the key and the shop's settings in the local store, server and role in kiosk.toml, so the
        next start talks to the same server), then points the running client at it."""
        try:
            request = enrolment.from_arguments(server_url, token, self.role)
        except enrolment.EnrolmentError:
            self.error = "bad_enrolment"
            return False
        try:
            enrolled = enrolment.enrol(request, config_path=self.config_path, name=name,
                                       state_dir=str(self.state_dir))
        except ServerRefused as e:
            self.error = e.code
            return False
        except (ServerUnreachable, BadResponse):
            self.error = "server_unreachable"
            return False
        except (enrolment.EnrolmentError, OSError):
            self.error = "config_not_written"  # enrolled, but the next start would not know the server
            return False
        self.backend.store.set_setting("server_url", request.server)
        self.backend.client.base_url = request.server.rstrip("/") + "/api/v1"
        self.backend.client.device_key = enrolled["device_key"]
        self.error = None
        return True

    def choose_role(self, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self.role = role
        self.backend.store.set_setting("role", role)

    # status -------------------------------------------------------------------------------------
    def status(self) -> dict:
        store = self.backend.store
        # counts from the outbox itself; the last outcome from the running worker, or as it left it on disk
        saved = store.sync_status()
        sync = self.backend.sync
        live = sync.state if sync is not None else None
        return {"server_url": store.get_setting("server_url") or self.backend.client.base_url.removesuffix("/api/v1"),
                "device_id": store.get_setting("device_id"), "role": self.role,
                "online": bool(live and live.online), "pending": saved["pending"], "failed": saved["failed"],
                "last_success": live.last_success if live else saved["last_success"],
                "last_error": live.last_error if live else saved["last_error"],
                "last_error_at": live.last_error_at if live else saved["last_error_at"]}

    def log_lines(self, limit: int = 80) -> list[str]:
        """The kiosk's latest log lines, oldest first, phones masked (kiosk.logbook)."""
        return logbook.install().lines()[-limit:]

    def failed_operations(self, limit: int = 50) -> list[dict]:
        """Newest first, with the server's reason code for the screen to translate."""
        rows = self.backend.store.failed(limit=1000)[-limit:]
        return [{"id": r["id"], "type": r["type"], "at": r["at"], "cashier": r.get("cashier"),
                 "error": (r.get("failure") or "").split(":", 1)[0]} for r in reversed(rows)]

    def retry(self, op_id: str) -> None:
        """After the technician fixed the cause (e.g. activated the card): send it again."""
        self.backend.store.retry_failed([op_id])
        if self.backend.sync is not None:
            self.backend.sync.kick()

    # factory reset ------------------------------------------------------------------------------
    def arm_reset(self) -> None:
        self.reset_armed = True

    def factory_reset(self) -> bool:
        """Forgets the enrolment, the cache and the outbox. Needs arm_reset() first (the confirmation);
        the app must restart afterwards, unenrolled."""
        if not self.reset_armed:
            self.error = "reset_not_confirmed"
            return False
        if self.backend.sync is not None:
            self.backend.sync.stop()
        self.backend.store.close()
        for path in self.state_dir.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        self.reset_armed = False
        return True
