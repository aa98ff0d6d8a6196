"""A device's wrong clock against a real server: the batch's X-Device-Time gives its offset, operation times
are corrected by it (so a rule window cannot be hit by setting the clock), impossible times are refused
with a clear reason, and every such operation is flagged for the owner."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from tests.support.server import init_demo_server

KYIV = ZoneInfo("Europe/Kyiv")


def send(server, key: str, ops: list[dict], device_time: datetime | None) -> list[dict]:
    headers = {"Authorization": f"Bearer {key}"}
    if device_time is not None:
        headers["X-Device-Time"] = device_time.isoformat()
    r = requests.post(f"{server.url}/api/v1/operations:batch", json={"operations": ops}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def sale(op_id: str, at: datetime | int, card: str = "10070") -> dict:
    return {"id": op_id, "type": "sale", "at": at if isinstance(at, int) else at.isoformat(),
            "payload": {"card_number": card, "amount": 10_000}}


def test_a_clock_set_to_the_happy_hour_earns_the_ordinary_rate(tmp_path):
    server = init_demo_server(tmp_path)
    # A 20 % rule for the half hour around "eight hours ago" in the shop's zone (the demo's 10 % otherwise).
    window = datetime.now(KYIV) - timedelta(hours=8)
    opens, closes = window - timedelta(minutes=15), window + timedelta(minutes=15)
    server.cli("rules", "add", "--name", "happy hour", "--percent", "20", "--priority", "0", "--no-combine",
               "--from", f"{opens:%H:%M}", "--to", f"{closes:%H:%M}")
    server.start()
    try:
        key = server.enrol("cashier")["device_key"]
        now = datetime.now(UTC)
        wrong = now - timedelta(hours=8)  # the till's clock says it is eight hours earlier
        # An old kiosk (no header) would get the happy hour: that is what the measurement closes.
        [old] = send(server, key, [sale("clock-old-kiosk-1", wrong)], None)
        assert old["result"]["accrued"] == 2_000
        [fixed] = send(server, key, [sale("clock-fixed-0001", wrong)], wrong)
        assert fixed["status"] == "applied" and fixed["result"]["accrued"] == 1_000, fixed
        # Queued offline two days ago on that same wrong clock: moved by the offset, still accepted.
        [queued] = send(server, key, [sale("clock-queued-001", wrong - timedelta(days=2))], wrong)
        assert queued["status"] == "applied" and queued["result"]["accrued"] == 1_000
        # A clock that is right needs no correction and raises no flag.
        [right] = send(server, key, [sale("clock-right-0001", now - timedelta(days=3))], datetime.now(UTC))
        assert right["status"] == "applied"
        # Impossible times: refused with the reason, kept in the audit trail, flagged.
        results = send(server, key, [sale("clock-future-001", datetime(2099, 1, 1, tzinfo=UTC)),
                                     sale("clock-epoch-0001", 0),
                                     sale("clock-1970-0001", datetime(1970, 1, 1, tzinfo=UTC))], None)
        assert [(r["status"], r.get("error")) for r in results] == [
            ("rejected", "time_in_future"), ("rejected", "time_too_old"), ("rejected", "time_too_old")]
        assert "clock" in results[0]["message"]
        assert server.operation_status("clock-future-001") == "rejected"
    finally:
        server.stop()
    out = subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(server.config_path),
                          "clock-report", "--fail-on-signal"], capture_output=True, text=True)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "clock_behind  2 operation(s)" in out.stdout and "time_too_old  2 operation(s)" in out.stdout
    assert "time_in_future  1 operation(s)" in out.stdout and ": 5" in out.stdout.splitlines()[0]


def test_times_at_the_edges_of_the_calendar_refuse_their_operation_not_the_batch(tmp_path):
    """Schema-valid times the server cannot compute with (UTC before year 1 or after 9999, or a day away from
    it) once failed the whole batch with a 422; each is now that operation's own refusal, as `"at": 0` is."""
    server = init_demo_server(tmp_path)
    server.start()
    try:
        key = server.enrol("cashier")["device_key"]
        edges = ["0001-01-01T00:01:00Z", "0001-01-01T01:00:00+04:03", "9999-12-31T23:59:59-05:00",
                 "9999-12-31T12:00:00Z"]
        ops = [{"id": f"calendar-edge-{i}", "type": "sale", "at": at, "payload": {"card_number": "10070",
                                                                                 "amount": 100}}
               for i, at in enumerate(edges)]
        ops.append(sale("calendar-normal", datetime.now(UTC)))
        for device_time in (None, datetime.now(UTC) + timedelta(days=3), datetime.now(UTC) - timedelta(days=3)):
            results = send(server, key, ops, device_time)
            assert [(r["status"], r.get("error")) for r in results[:4]] == [
                ("rejected", "time_too_old"), ("rejected", "time_too_old"),
                ("rejected", "time_in_future"), ("rejected", "time_in_future")], results
            assert results[4]["status"] in ("applied", "duplicate"), results[4]
    finally:
        server.stop()
