"""The gallery's fit check on purpose-made labels in a real Kivy window: it must tell a fitting label from one
Kivy drew shortened ("…"), one with lines dropped, one with a word broken, and one spilling out of its box.
Kivy starts once per process, so the window lives in a child process that prints what the check found."""

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
import json
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.textinput import TextInput
from devtools.gallery import overflowing_labels, overlapping, small_targets

LONG = "Адалдық бағдарламасының шарттарын қабылдаймын"

def label(name, x, y, w, h, **kw):
    kw.setdefault("text", f"{name} {LONG}")
    return Label(size_hint=(None, None), size=(w, h), pos=(x, y), font_size=20, **kw)

class Probe(App):
    def load_kv(self, filename=None):  # no .kv file, and no source file to look for one next to (python -c)
        return None

    def build(self):
        root = FloatLayout()
        self.cases = {
            "fits": label("fits", 0, 0, 700, 60, text_size=(700, None)),
            "fits_wrapped": label("fits_wrapped", 0, 70, 300, 120, text_size=(300, None)),
            "shortened": label("shortened", 0, 200, 200, 40, text_size=(200, None), shorten=True),
            "lines_dropped": label("lines_dropped", 0, 250, 200, 40, text_size=(200, 40), valign="middle"),
            "word_broken": label("word_broken", 0, 300, 60, 400, text_size=(60, None)),
            "spills": label("spills", 300, 300, 100, 30),
            "outside": label("outside", 1000, 700, 300, 40, text="outside", text_size=(300, None)),
            "markup_fits": label("markup_fits", 0, 740, 500, 40, text="[b]12[/b] bonuses", markup=True),
        }
        for widget in self.cases.values():
            root.add_widget(widget)
        root.add_widget(Button(text="x", size_hint=(None, None), size=(60, 60), pos=(1000, 0)))
        root.add_widget(Button(text="big", size_hint=(None, None), size=(100, 100), pos=(1000, 100)))
        root.add_widget(TextInput(size_hint=(None, None), size=(300, 40), pos=(1000, 300)))
        root.add_widget(TextInput(hint_text="hint cut " + LONG, size_hint=(None, None), size=(300, 80),
                                  pos=(800, 400)))
        root.add_widget(TextInput(hint_text="hint fits", size_hint=(None, None), size=(300, 80), pos=(800, 500)))
        root.add_widget(Label(text="over", size_hint=(None, None), size=(100, 40), pos=(1000, 120)))
        Clock.schedule_once(self.check, 0.5)
        return root

    def check(self, _dt):
        from kivy.core.window import Window
        found = overflowing_labels(Window, (1200, 800))
        by_text = {case: [f for f in found if f["text"] == w.text[:80]] for case, w in self.cases.items()}
        by_text["hint_cut"] = [f for f in found if f["text"].startswith("hint cut")]
        by_text["hint_fits"] = [f for f in found if f["text"] == "hint fits"]
        print("RESULT " + json.dumps({"labels": {case: [f["reason"] for f in f_] for case, f_ in by_text.items()},
                                     "targets": small_targets(Window, (800, 480)),
                                     "overlap": overlapping(Window)}, ensure_ascii=False))
        self.stop()

Probe().run()
"""


@pytest.fixture(scope="module")
def found() -> dict:
    if not os.environ.get("DISPLAY"):
        pytest.fail("the UI tests need a display: run them through ./scripts/test, which starts Xvfb")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1", KIVY_NO_CONSOLELOG="1")
    code = "from kivy.config import Config\nConfig.set('graphics', 'width', '1200')\n" \
           "Config.set('graphics', 'height', '800')\n" + CHILD
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=CHILD_SECONDS, env=env,
                          cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_fitting_labels_pass(found):
    assert found["labels"]["fits"] == []
    assert found["labels"]["fits_wrapped"] == []
    assert found["labels"]["markup_fits"] == []


def test_text_kivy_shortened_or_clipped_is_cut(found):
    assert found["labels"]["shortened"] == ["cut"]
    assert found["labels"]["lines_dropped"] == ["cut"]
    assert found["labels"]["word_broken"] == ["cut"]


def test_a_text_fields_hint_wider_than_the_field_is_cut(found):
    assert found["labels"]["hint_cut"] == ["cut"]
    assert found["labels"]["hint_fits"] == []


def test_text_bigger_than_its_box_or_outside_the_window_overflows(found):
    assert found["labels"]["spills"] == ["overflow"]
    assert found["labels"]["outside"] == ["overflow"]


def test_small_touch_targets_are_reported_in_millimetres(found):
    # 60 px on a 7" 800x480 panel is 11.4 mm, 100 px is 19 mm; a 40 px text field is 7.6 mm
    assert sorted((t["text"], t["mm"]) for t in found["targets"]) == [("", "57.2x7.6"), ("x", "11.4x11.4")]


def test_labels_covering_each_other_are_reported(found):
    assert {"text": "over", "over": "big"} in found["overlap"] or {"text": "big", "over": "over"} in found["overlap"]
