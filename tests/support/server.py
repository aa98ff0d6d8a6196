"""A real store server process on a loopback port, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import requests

from .cli import run_cli

# A loaded machine (CI, a laptop building an image) can take many seconds to import FastAPI and SQLAlchemy;
# the deadline is generous because a slow start is not what these tests are about.
START_DEADLINE = float(os.environ.get("KIOSK_TEST_SERVER_START_SECONDS", "90"))


def wait_ready(url: str, proc: subprocess.Popen, deadline: float, stderr=lambda: "") -> None:
    """Polls `url` until it answers, with read timeouts that grow: a busy machine answers late, not never."""
    give_up = time.monotonic() + deadline
    timeout = 1.0
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"store server exited with {proc.returncode}: {stderr()}")
        try:
            with warnings.catch_warnings():  # the probe only asks "is it up?", not "is it genuine?"
                warnings.simplefilter("ignore")
                requests.get(url, timeout=timeout, verify=False)
            return
        except requests.RequestException:
            if time.monotonic() >= give_up:
                raise RuntimeError(f"store server did not answer within {deadline:.0f} s: {stderr()}") from None
            timeout = min(timeout * 2, 10.0)
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.toml"

    @property
    def sms_file(self) -> Path:
        return self.data_dir / "sms-console.jsonl"

    def cli(self, *args: str) -> str:
        return run_cli("--config", str(self.config_path), *args, check=True).stdout

    def use_database(self, database_url: str) -> None:
        """Points this (not yet started) server at another database, a PostgreSQL one for instance, and
        brings its schema up to date there."""
        text = self.config_path.read_text(encoding="utf-8")
        self.config_path.write_text(re.sub(r'(?m)^database_url = .*$', f'database_url = "{database_url}"', text),
                                    encoding="utf-8")
        self.cli("upgrade")

    def enrolment_token(self, role: str = "entrance", shop: str | None = None) -> str:
        out = self.cli("enrolment-token", "--role", role, *(("--shop", shop) if shop else ()))
        return out.split("enrolment token: ", 1)[1].split()[0]

    def enrol(self, role: str = "entrance", name: str = "test device", shop: str | None = None) -> dict:
        r = requests.post(f"{self.url}/api/v1/devices/enrol", timeout=5,
                          json={"enrolment_token": self.enrolment_token(role, shop), "name": name, "role": role})
        r.raise_for_status()
        return r.json()

    def last_sms(self, phone: str | None = None) -> dict:
        lines = [json.loads(line) for line in self.sms_file.read_text(encoding="utf-8").splitlines()]
        if phone:
            lines = [m for m in lines if m["to"] == phone]
        return lines[-1]

    def last_code(self, phone: str | None = None) -> str:
        text = self.last_sms(phone)["text"]
        return next(word for word in text.replace(":", " ").split() if word.isdigit() and len(word) == 6)

    tls: tuple[Path, Path] | None = None  # (certificate, key): serve HTTPS with the same app

    @property
    def database(self) -> Path:
        return self.data_dir / "store.db"

    @property
    def stderr_file(self) -> Path:
        # A file, not a pipe: nobody reads a pipe while the server runs, and a chatty server would block on
        # a full one; the file also survives for the failure message.
        return self.data_dir / "server-stderr.log"

    def stderr_text(self, limit: int = 4000) -> str:
        try:
            return self.stderr_file.read_text(encoding="utf-8", errors="replace")[-limit:]
        except FileNotFoundError:
            return ""

    def start(self, tls: tuple[Path, Path] | None = None, workers: int = 1,
              deadline: float = START_DEADLINE) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.tls = tls or self.tls
        if self.tls:
            # `store-server serve` has no TLS options (a shop puts it behind its own proxy); the same app and
            # protocol (limits, keep-alive) under uvicorn's TLS is what the kiosk would meet there.
            code = ("import sys, uvicorn; from store_server.config import ServerConfig; "
                    "from store_server.api.app import create_app; "
                    "from store_server.api.limits import GuardedProtocol; "
                    "uvicorn.run(create_app(ServerConfig.load(sys.argv[1])), host='127.0.0.1', "
                    "port=int(sys.argv[2]), ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4], "
                    "log_level='warning', access_log=False, http=GuardedProtocol)")
            cmd = [sys.executable, "-c", code, str(self.config_path), str(self.port), *map(str, self.tls)]
        else:
            cmd = [sys.executable, "-m", "store_server.cli", "--config", str(self.config_path), "serve",
                   "--port", str(self.port), "--workers", str(workers)]
        with self.stderr_file.open("ab") as err:
            self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)
        probe = f"{self.url.replace('http://', 'https://') if self.tls else self.url}/api/v1/openapi.json"
        try:
            wait_ready(probe, self.proc, deadline, self.stderr_text)
        except BaseException:
            self.stop(signal.SIGKILL)  # nothing we started outlives a failed start
            raise
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, a batch in flight is cut off wherever it is."""
        self.stop(signal.SIGKILL)

    def operation_status(self, op_id: str) -> str | None:
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            row = db.execute("select status from operations where id = ?", [op_id]).fetchone()
            return row[0] if row else None
        finally:
            db.close()

    def operation_counts(self, device_id: str) -> dict[str, int]:
        """Per operation id of a device: how many ledger movements it produced (exactly-once checks)."""
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            rows = db.execute("select o.id, count(l.id) from operations o left join ledger l "
                              "on l.operation_id = o.id where o.device_id = ? group by o.id", [device_id])
            return dict(rows.fetchall())
        finally:
            db.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            # uvicorn --workers N leaves children in the session we started; none may outlive the test.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def init_demo_server(data_dir: Path, port: int | None = None) -> ServerProcess:
    port = port or free_port()
    run_cli("init", "--data-dir", str(data_dir), "--demo", "--port", str(port), check=True)
    return ServerProcess(data_dir, port)
