"""The keyboard wedge in a real Kivy window: text typed into a focused text field (a technician's server URL)
is not a scan, and the same keys are one once the field lets the focus go. Kivy starts once per process, so
the window lives in a child process that prints what the scan queue received."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A Kivy window in a child process starts in seconds when idle and several times slower on a loaded
# machine; the deadline is there to catch a hung window, not a slow machine.
CHILD_SECONDS = 600
pytestmark = [pytest.mark.ui, pytest.mark.timeout(CHILD_SECONDS + 120)]

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, tempfile
from pathlib import Path
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput
from kiosk.config import KioskConfig
from kiosk.journey import type_on_window
from kiosk.peripherals import Peripherals

peripherals = Peripherals(KioskConfig(state_dir=Path(tempfile.mkdtemp()))).start(Window)

def drain():
    got = []
    while (scan := peripherals.queue.get()) is not None:
        got.append(scan.payload)
    return got

class Probe(App):
    def load_kv(self, filename=None):
        return None

    def build(self):
        root = BoxLayout()
        self.field = TextInput(multiline=False)
        root.add_widget(self.field)
        Clock.schedule_once(self.focus, 0.3)
        return root

    def focus(self, _dt):
        self.field.focus = True
        Clock.schedule_once(self.type_in_field, 0.2)

    def type_in_field(self, _dt):
        type_on_window("10001")
        self.report = {"focused": drain(), "field": self.field.text}
        self.field.focus = False
        Clock.schedule_once(self.type_unfocused, 0.2)

    def type_unfocused(self, _dt):
        type_on_window("10002")
        self.report["unfocused"] = drain()
        print("REPORT " + json.dumps(self.report), flush=True)
        peripherals.stop()
        self.stop()

Probe().run()
"""


def test_typing_into_a_focused_field_is_not_a_scan():
    if not os.environ.get("DISPLAY"):
        pytest.fail("the UI tests need a display: run them through ./scripts/test, which starts Xvfb")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1", KIVY_NO_CONSOLELOG="1")
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=CHILD_SECONDS, env=env,
                          cwd=ROOT)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(line[len("REPORT "):])
    assert report["focused"] == [] and report["field"] == "10001"
    assert report["unfocused"] == ["10002"]
