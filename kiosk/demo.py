"""`kiosk demo`: a whole demo store on this machine: a store server with demo data, and the kiosk.

SMS codes are printed to the terminal by the server's console gateway (and appended to a file).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from .config import KioskConfig

DEMO_CASHIER, DEMO_PIN, DEMO_BADGE = "Olena Demo", "2580", "STAFF-0001"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DEMO_OWNER_PASSWORD = "demo owner password"

# What the demo shop asks at registration (the entrance demo only): a text answer typed on the on-screen keyboard
# and a birthday on its picker.
DEMO_QUESTIONNAIRE = [
    {"key": "name", "type": "text",
     "label": {"en": "Your first name", "uk": "Ваше ім'я", "ru": "Ваше имя", "kk": "Атыңыз", "vi": "Tên của bạn"}},
    {"key": "birthday", "type": "date", "min_age": 14,
     "label": {"en": "Your birthday (for a gift)", "uk": "Ваш день народження (для подарунка)",
               "ru": "Ваш день рождения (для подарка)", "kk": "Туған күніңіз (сыйлық үшін)",
               "vi": "Ngày sinh của bạn (để nhận quà)"}},
]

# The name the journey types, as the keys it taps: each language's own letters, some on the keyboard's second
# page at 800x480 (the journey turns pages to find them); the shift key for the N of O'Neil; in Vietnamese the
# tone key puts the dot under the ê.
DEMO_NAME_KEYS = {"en": ["O", "'", "⇧", "N", "e", "i", "l"], "uk": ["Ю", "л", "і", "я"],
                  "ru": ["О", "л", "ь", "г", "а"], "kk": ["А", "й", "г", "ү", "л"], "vi": ["V", "i", "ê", "t", "ạ"]}
DEMO_NAMES = {"en": "O'Neil", "uk": "Юлія", "ru": "Ольга", "kk": "Айгүл", "vi": "Việt"}
DEMO_BIRTHDAY = "1990-09-14"


class DemoStore:
    """The demo's store server process, with its data in `root/server`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "server"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def _cli(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run([sys.executable, "-m", "store_server.cli", *args], check=True, input=stdin,
                              capture_output=True, text=True).stdout

    def start(self) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self._cli("init", "--data-dir", str(self.data_dir), "--demo", "--port", str(self.port))
        # The shop owner's back office of the same demo shop, with a password for the demo only.
        subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(self.data_dir / "server.toml"),
                        "admin", "add", "owner", "--role", "owner"], input=DEMO_OWNER_PASSWORD + "\n", text=True,
                       check=True, capture_output=True)
        print(f"back office: {self.url}/admin/ (owner / {DEMO_OWNER_PASSWORD})", flush=True)
        # the till's cashier signs in with this PIN, or by scanning the badge code
        self._cli("--config", str(self.data_dir / "server.toml"), "cashiers", "add", DEMO_CASHIER, "--pin-stdin",
                  "--badge", DEMO_BADGE, stdin=DEMO_PIN + "\n")
        self.proc = subprocess.Popen([sys.executable, "-m", "store_server.cli", "--config",
                                      str(self.data_dir / "server.toml"), "serve"])
        # A loaded machine may take a while to start the server: wait for /healthz with a generous deadline, and
        # stop the server when giving up, so that no orphan keeps the caller's pipes open.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("the demo store server did not start; see the messages above")
            try:
                if requests.get(self.url + "/healthz", timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit("the demo store server did not answer within 90 s")

    def enrolment_token(self, role: str) -> str:
        out = self._cli("--config", str(self.data_dir / "server.toml"), "enrolment-token", "--role", role)
        return out.split("enrolment token: ", 1)[1].split()[0]

    def last_code(self, phone: str) -> str:
        sms_file = self.data_dir / "sms-console.jsonl"
        for line in reversed(sms_file.read_text(encoding="utf-8").splitlines()):
            message = json.loads(line)
            if message["to"].endswith(phone.lstrip("+0")[-9:]):
                code = next((w for w in message["text"].split() if w.isdigit() and len(w) == 6), None)
                if code:  # the welcome message after activation carries no code
                    return code
        raise LookupError(f"no SMS to {phone}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_demo(out_dir: Path, *, scripted: bool, role: str = "entrance", lang: str = "en",
             size: tuple[int, int] = (800, 480)) -> int:
    from .runtime import build_runtime, provision

    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    store = DemoStore(out_dir)
    store.start()
    try:
        kiosk_dir = out_dir / "kiosk"
        if kiosk_dir.exists():
            shutil.rmtree(kiosk_dir)
        config = KioskConfig(server_url=store.url, role=role, language=lang, state_dir=kiosk_dir,
                             fullscreen=False, width=size[0], height=size[1], idle_timeout=120)
        config.source = kiosk_dir / "kiosk.toml"  # on-screen enrolment in the demo writes here, not to /etc
        os.environ.pop("KIOSK_STATE_DIR", None)
        if scripted:
            # the scripted till asks one customer for several codes within a minute; the shop's resend
            # pause (30 s) and limit per 15 minutes would make the script wait, not test anything
            store._cli("--config", str(store.data_dir / "server.toml"), "settings", "set", "otp",
                       json.dumps({"resend_after_seconds": 1, "sends_per_phone_15min": 20}))
        if role == "entrance":
            # the entrance asks the shop's questions at registration: a name on the on-screen keyboard and a
            # birthday on its picker (the scripted journey answers them by touch)
            store._cli("--config", str(store.data_dir / "server.toml"), "settings", "set", "questionnaire",
                       json.dumps(DEMO_QUESTIONNAIRE, ensure_ascii=False))
        provision(config, token=store.enrolment_token(role), name="demo kiosk")
        runtime = build_runtime(config)
        print(f"demo store server on {store.url}; SMS codes appear in this terminal", flush=True)
        if role == "cashier":
            print(f"the till's cashier {DEMO_CASHIER!r} signs in with PIN {DEMO_PIN} (or the badge {DEMO_BADGE})",
                  flush=True)
        return run_app(runtime, scripted=scripted, store=store, shots=out_dir / "screenshots")
    finally:
        store.stop()


def run_app(runtime, *, scripted: bool, store: DemoStore | None = None, shots: Path | None = None) -> int:
    from .launch import configure_window, draw_first_frame_twice

    configure_window(runtime.config)
    from kivy.core.window import Window

    draw_first_frame_twice(Window)

    from .app import KioskApp
    from .journey import Journey, cashier_steps, customer_steps
    from .peripherals import Peripherals

    peripherals = Peripherals(runtime.config)
    app = KioskApp(runtime.config, runtime.backend, peripherals.queue, indicators=peripherals.indicators)
    outcome: dict[str, str | None] = {"error": None}
    if scripted:
        def finish(error: str | None) -> None:
            outcome["error"] = error
            app.stop()

        def begin(_app) -> None:
            if runtime.config.role == "cashier":
                steps = cashier_steps(app, card="10007", phone="0671234567", read_code=store.last_code,
                                      pin=DEMO_PIN, lang=runtime.config.language)
            else:
                steps = customer_steps(app, card="10001", phone="+380501234567", read_code=store.last_code,
                                       lang=runtime.config.language)
            # Kivy's clock holds bound methods weakly: the app must own the journey or it is collected.
            app.journey = Journey(app, steps, shots, finish)
            app.journey.start()

        app.bind(on_start=begin)
    peripherals.start(Window)
    runtime.sync.start()
    try:
        app.run()
    finally:
        peripherals.stop()
        runtime.close()
    if scripted:
        if outcome["error"]:
            # Kivy hands sys.stderr to its logger, which the tests silence (KIVY_NO_CONSOLELOG): the real one
            print(f"demo journey failed: {outcome['error']}", file=sys.__stderr__, flush=True)
            return 1
        print(f"demo journey passed; screenshots in {shots}")
    return 0
