"""`pip install '.[server]'` alone runs a store server: a fresh venv without Kivy or the dev tools serves a
customer's card page and the API docs with their scripts from the server itself.

The venv's dependencies are installed once and cached outside the checkout (keyed by the dependency lists in
pyproject.toml); this repository's own wheel is built and reinstalled into it on every run."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests

from tests.support.server import ServerProcess, free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def cached_server_venv() -> Path:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    constraints = REPO / "constraints.txt"  # the versions the image installs
    deps = json.dumps([project["dependencies"], project["optional-dependencies"]["server"], sys.version_info[:2],
                       constraints.read_text(encoding="utf-8")])
    key = hashlib.sha256(deps.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "loyalty-kiosk"
    venv = cache / f"server-extra-{key}"
    if not (venv / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
        pins = [*project["dependencies"], *project["optional-dependencies"]["server"]]
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "-c", str(constraints), *pins],
                       check=True, timeout=900, capture_output=True)
        (venv / ".ready").touch()
    return venv


def test_server_extra_alone_serves_a_card_page(tmp_path):
    venv = cached_server_venv()
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
                   check=True, timeout=600, capture_output=True)
    wheel = next(wheels.glob("loyalty_kiosk-*.whl"))
    # --no-deps: the dependencies are the cached ones; a missing one shows up below as an ImportError.
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, timeout=300, capture_output=True)
    python, store_server = str(venv / "bin/python"), str(venv / "bin/store-server")
    no_kivy = subprocess.run([python, "-c", "import kivy"], capture_output=True, text=True)
    assert "No module named 'kivy'" in no_kivy.stderr  # nothing of the kiosk came along

    port, data = free_port(), tmp_path / "shop"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    init = subprocess.run([store_server, "init", "--data-dir", str(data), "--demo", "--port", str(port)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    link = subprocess.run([python, "-c", (
        "import sys; from store_server.data.db import make_engine; from store_server.digital_card import card_link; "
        "e = make_engine(sys.argv[1]);\nwith e.begin() as c: print(card_link(c, '10001'))"),
        f"sqlite:///{data / 'store.db'}"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert link.returncode == 0, link.stderr
    url = link.stdout.strip()
    assert url.startswith(f"http://127.0.0.1:{port}/c/")

    server = ServerProcess(data, port)
    proc = subprocess.Popen([store_server, "--config", str(server.config_path), "serve"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    server.proc = proc
    try:
        page = None
        for _ in range(300):
            try:
                page = requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stderr.read()
                import time

                time.sleep(0.2)
        assert page is not None and page.status_code == 200
        assert "10001" in page.text and "<svg" in page.text
        docs = requests.get(f"http://127.0.0.1:{port}/api/docs", timeout=5)
        assert docs.status_code == 200 and "cdn" not in docs.text.lower()
        for asset in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', docs.text):
            assert requests.get(f"http://127.0.0.1:{port}{asset}", timeout=5).status_code == 200, asset
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        server.stop()
