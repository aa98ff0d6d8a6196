"""Technician: PIN with lockout that survives a restart, enrolment against a real server, role, failed
operations with the server's reason, self-test, factory reset."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.config import KioskConfig
from kiosk.flows.technician import (
    DEFAULT_PIN,
    LOCKOUT_SECONDS,
    MAX_TRIES,
    TOUCH_GRID,
    PinChange,
    PinLock,
    SelfTest,
    TechnicianFlow,
)
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def type_in(target, text):
    for ch in text:
        target.press(ch)


def test_pin_locks_after_wrong_tries_and_the_lock_survives_a_restart(tmp_path):
    clock = Clock()
    store = LocalStore(tmp_path / "k.db")
    lock = PinLock(store, clock=clock)
    type_in(lock, DEFAULT_PIN)
    assert lock.submit()
    for attempt in range(MAX_TRIES):
        type_in(lock, "0000")
        assert not lock.submit()
        assert lock.error == ("pin_locked" if attempt == MAX_TRIES - 1 else "wrong_pin")
    store.close()
    store = LocalStore(tmp_path / "k.db")  # power cut: the lockout is on disk
    lock = PinLock(store, clock=clock)
    assert lock.locked_for() == LOCKOUT_SECONDS
    type_in(lock, DEFAULT_PIN)
    assert not lock.submit() and lock.error == "pin_locked"  # even the right PIN waits
    clock.now += LOCKOUT_SECONDS
    type_in(lock, DEFAULT_PIN)
    assert lock.submit() and lock.tries_left() == MAX_TRIES


def test_a_clock_set_back_a_year_locks_for_five_minutes_not_a_year(tmp_path):
    clock = Clock()
    store = LocalStore(tmp_path / "k.db")
    lock = PinLock(store, clock=clock)
    for _ in range(MAX_TRIES):
        type_in(lock, "0000")
        lock.submit()
    assert lock.locked_for() == LOCKOUT_SECONDS
    clock.now -= 365 * 24 * 3600  # NTP puts the clock right after a boot that believed it was next year
    assert lock.locked_for() == LOCKOUT_SECONDS
    clock.now += LOCKOUT_SECONDS
    assert lock.locked_for() == 0
    type_in(lock, DEFAULT_PIN)
    assert lock.submit()


def test_pin_change_rejects_short_pins_and_keeps_no_plain_pin(tmp_path):
    store = LocalStore(tmp_path / "k.db")
    lock = PinLock(store)
    assert not lock.change("12") and lock.error == "bad_pin"
    assert lock.change("864209")
    assert "864209" not in str(store.get_setting("technician_pin"))
    type_in(lock, DEFAULT_PIN)
    assert not lock.submit()
    type_in(lock, "864209")
    assert lock.submit()


def test_self_test_needs_every_item_and_the_whole_touch_grid():
    test = SelfTest()
    test.scanned("TEST-123")
    test.confirm("leds")
    test.confirm("buzzer")
    for col in range(TOUCH_GRID[0]):
        for row in range(TOUCH_GRID[1]):
            assert not test.all_passed
            test.touch(col, row)
    assert test.all_passed and test.last_scan == "TEST-123"


@pytest.fixture
def unenrolled(store_server, tmp_path):
    store = LocalStore(tmp_path / "state" / "kiosk.db")
    client = StoreClient("http://127.0.0.1:9", timeout=2)
    backend = Backend(store, client, SyncWorker(store, client))
    config = tmp_path / "etc" / "kiosk.toml"
    config.parent.mkdir()
    config.write_text('server_url = "http://127.0.0.1:9"\nlanguage = "kk"\n\n[scanners]\n', encoding="utf-8")
    return TechnicianFlow(backend, state_dir=tmp_path / "state", role="entrance", config_path=config)


def test_enrol_role_failed_operations_and_factory_reset(unenrolled, store_server, tmp_path):
    flow = unenrolled
    assert not flow.enrol(store_server.url, "not-a-token") and flow.error
    assert not flow.enrol("ftp://x", "t") and flow.error == "bad_enrolment"
    flow.choose_role("entrance")
    assert flow.enrol(store_server.url, store_server.enrolment_token("entrance")), flow.error
    # written as `kiosk provision` writes it (kiosk.enrol): the next start talks to this server in this role
    written = KioskConfig.load(flow.config_path)
    assert (written.server_url, written.role, written.state_dir) == (store_server.url, "entrance", tmp_path / "state")
    assert written.language == "kk"  # the rest of the file is kept
    backend = flow.backend
    assert backend.store.get_setting("shop_config")["public_name"]
    assert backend.client.card("10001")["number"] == "10001"  # the new key works at once
    status = flow.status()
    assert status["device_id"] and status["server_url"] == store_server.url and status["role"] == "entrance"

    # an entrance device may not sell: the server refuses, the technician sees why
    op_id = backend.enqueue("sale", {"card_number": "10001", "amount": 100})
    backend.sync.drain()
    failed = flow.failed_operations()
    assert [(f["id"], f["error"]) for f in failed] == [(op_id, "role_not_allowed")]
    assert flow.status()["failed"] == 1

    assert not flow.factory_reset() and flow.error == "reset_not_confirmed"
    flow.arm_reset()
    assert flow.factory_reset()
    assert list((tmp_path / "state").iterdir()) == []
    with pytest.raises(ValueError):
        flow.choose_role("manager")


def test_enrolment_that_cannot_write_kiosk_toml_says_so(store_server, tmp_path):
    store = LocalStore(tmp_path / "state" / "kiosk.db")
    client = StoreClient("http://127.0.0.1:9", timeout=2)
    (tmp_path / "etc").write_text("a file where the folder should be", encoding="utf-8")
    flow = TechnicianFlow(Backend(store, client), state_dir=tmp_path / "state", role="cashier",
                          config_path=tmp_path / "etc" / "kiosk.toml")
    assert not flow.enrol(store_server.url, store_server.enrolment_token("cashier"))
    assert flow.error == "config_not_written"
    store.close()


def test_status_shows_failed_count_and_the_last_sync_error_also_after_a_restart(tmp_path):
    store = LocalStore(tmp_path / "k.db")
    client = StoreClient("http://127.0.0.1:9", timeout=1)  # nothing listens: the sync fails at the wire
    store.enqueue("sale", {"card_number": "10001", "amount": 100})
    store.mark_failed(store.enqueue("redeem", {"card_number": "10001", "amount": 50}), "insufficient_balance: no")
    sync = SyncWorker(store, client)
    sync.step()
    live = TechnicianFlow(Backend(store, client, sync), state_dir=tmp_path, role="cashier").status()
    assert (live["pending"], live["failed"], live["online"]) == (1, 1, False)
    assert "unreachable" in live["last_error"] and live["last_error_at"] and sync.state.failed == 1
    # no worker running (the technician's screen after a restart): the same, from the store
    saved = TechnicianFlow(Backend(store, client), state_dir=tmp_path, role="cashier").status()
    assert (saved["failed"], saved["last_error"], saved["last_error_at"]) == (1, live["last_error"],
                                                                            live["last_error_at"])
    store.close()


def test_new_pin_is_typed_twice_and_the_default_is_refused(tmp_path):
    store = LocalStore(tmp_path / "k.db")
    lock = PinLock(store)
    assert lock.is_default()
    change = PinChange(lock, forced=True)
    for attempt, error in ((DEFAULT_PIN, "pin_is_default"), ("12", "bad_pin")):
        type_in(change, attempt)
        assert not change.submit() and change.error == error and not change.repeating
    type_in(change, "4711")
    assert not change.submit() and change.repeating and change.error is None
    type_in(change, "4712")
    assert not change.submit() and change.error == "pins_differ" and not change.repeating  # both again
    type_in(change, "4711")
    change.submit()
    type_in(change, "4711")
    assert change.submit() and change.done
    assert not lock.is_default()
    type_in(lock, DEFAULT_PIN)
    assert not lock.submit() and lock.error == "wrong_pin"
    type_in(lock, "4711")
    assert lock.submit()
    store.close()


def test_a_pin_record_from_before_the_default_flag_is_still_recognised(tmp_path):
    store = LocalStore(tmp_path / "k.db")
    lock = PinLock(store)
    record = PinLock._new_record(DEFAULT_PIN)
    del record["default"]
    store.set_setting("technician_pin", record)
    assert lock.is_default()
    store.close()


def test_kiosk_pin_sets_the_pin_from_stdin(tmp_path):
    state = tmp_path / "state"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'server_url = "http://127.0.0.1:9"\nstate_dir = "{state}"\n', encoding="utf-8")
    run = lambda pin: subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "pin"],  # noqa: E731
                                     input=pin + "\n", capture_output=True, text=True, timeout=30)
    bad = run("12a4")
    assert bad.returncode == 2 and "4 to 8 digits" in bad.stderr
    assert run(DEFAULT_PIN).returncode == 2
    ok = run("90210")
    assert ok.returncode == 0, ok.stderr
    store = LocalStore(KioskConfig.load(config).database)
    lock = PinLock(store)
    type_in(lock, "90210")
    assert lock.submit() and not lock.is_default()
    store.close()
