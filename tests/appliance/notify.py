"""A stand-in for systemd's end of sd_notify: a datagram socket that collects what the kiosk sends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.server import ServerProcess

WINDOWED = 'fullscreen = false\nwidth = 800\nheight = 480\nlanguage = "en"\n'


def enrolled_device(server: ServerProcess, folder: Path) -> dict[str, str]:
    """An enrolled kiosk in `folder`; returns the environment that `kiosk run` needs for it."""
    config, state = folder / "kiosk.toml", folder / "state"
    state.mkdir(parents=True)
    config.write_text(WINDOWED)
    subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "provision", "--server", server.url,
                    "--token", server.enrolment_token("entrance"), "--role", "entrance", "--state-dir", str(state)],
                   check=True, capture_output=True, timeout=60)
    return {"KIOSK_CONFIG": str(config), "KIOSK_STATE_DIR": str(state)}


def run_until_ready(command: list[str], env: dict[str, str], sock_path: Path, timeout: float = 90) -> list[str]:
    """Starts `command` as kiosk.service would (NOTIFY_SOCKET, WATCHDOG_USEC), returns the messages received
    up to READY=1 and two watchdog pings after it, then stops the process."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(sock_path))
        manager.settimeout(0.5)
        full_env = {**os.environ, **env, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "2000000",
                    "KIVY_NO_ARGS": "1", "KIVY_NO_FILELOG": "1", "KIVY_NO_CONSOLELOG": "1"}
        full_env.pop("WATCHDOG_PID", None)
        proc = subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        messages: list[str] = []
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AssertionError(f"exited {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")
                try:
                    messages.append(manager.recv(4096).decode())
                except TimeoutError:
                    continue
                after_ready = messages[next((i for i, m in enumerate(messages) if "READY=1" in m), len(messages)):]
                if sum(m == "WATCHDOG=1" for m in after_ready) >= 2:
                    return messages
            raise AssertionError(f"no READY=1 and pings within {timeout} s; got {messages}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
