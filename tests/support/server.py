"""A real store server process on a loopback port, for tests and benchmarks."""

from __future__ import annotations

import json
import os
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
        out = subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(self.config_path), *args],
                             check=True, capture_output=True, text=True)
        return out.stdout

    def enrolment_token(self, role: str = "entrance") -> str:
        out = self.cli("enrolment-token", "--role", role)
        return out.split("enrolment token: ", 1)[1].split()[0]

    def enrol(self, role: str = "entrance", name: str = "test device") -> dict:
        r = requests.post(f"{self.url}/api/v1/devices/enrol", timeout=5,
                          json={"enrolment_token": self.enrolment_token(role), "name": name, "role": role})
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

    def start(self, tls: tuple[Path, Path] | None = None) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.tls = tls or self.tls
        if self.tls:
            # `store-server serve` has no TLS options (a shop puts it behind its own proxy); the same app
            # under uvicorn's TLS is what the kiosk would meet there.
            code = ("import sys, uvicorn; from store_server.config import ServerConfig; "
                    "from store_server.api.app import create_app; "
                    "uvicorn.run(create_app(ServerConfig.load(sys.argv[1])), host='127.0.0.1', "
                    "port=int(sys.argv[2]), ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4], "
                    "log_level='warning', access_log=False)")
            cmd = [sys.executable, "-c", code, str(self.config_path), str(self.port), *map(str, self.tls)]
        else:
            cmd = [sys.executable, "-m", "store_server.cli", "--config", str(self.config_path), "serve",
                   "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        probe = f"{self.url.replace('http://', 'https://') if self.tls else self.url}/api/v1/openapi.json"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"store server exited: {self.proc.stderr.read().decode()}")
            try:
                with warnings.catch_warnings():  # the probe only asks "is it up?", not "is it genuine?"
                    warnings.simplefilter("ignore")
                    requests.get(probe, timeout=0.5, verify=False)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("store server did not start within 20 s")

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
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()


def init_demo_server(data_dir: Path, port: int | None = None) -> ServerProcess:
    port = port or free_port()
    subprocess.run([sys.executable, "-m", "store_server.cli", "init", "--data-dir", str(data_dir), "--demo",
                    "--port", str(port)], check=True, capture_output=True)
    return ServerProcess(data_dir, port)
