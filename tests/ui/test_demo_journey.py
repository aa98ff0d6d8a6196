"""The real kiosk window under Xvfb, driven through a customer journey against a real store server.

Screenshots are kept in test-output/journey/ so a person can look at them after the run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from kiosk.demo import DEMO_BIRTHDAY, DEMO_NAMES

# One scripted journey takes about 45 s on two idle cores; at load average 16 it passed 180 s. The deadline
# is there to catch a hung window, not a slow machine.
JOURNEY_SECONDS = 900
# pytest-timeout counts the module fixture in the first test that asks for it.
pytestmark = [pytest.mark.ui, pytest.mark.timeout(JOURNEY_SECONDS + 120)]

ROOT = Path(__file__).resolve().parents[2]
KEEP = ROOT / "test-output" / "journey"
JOIN_BUTTON = (0xF5, 0xA6, 0x23)  # the accent colour of the big "join" button


def _close(rgb: tuple[int, ...], want: tuple[int, int, int], slack: int = 12) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(rgb[:3], want, strict=True))


@pytest.fixture(scope="module")
def journey(tmp_path_factory) -> Path:
    if not os.environ.get("DISPLAY"):
        pytest.fail("the UI tests need a display: run them through ./scripts/test, which starts Xvfb")
    out = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1", KIVY_NO_CONSOLELOG="1")
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--scripted", "--out", str(out)],
                          capture_output=True, text=True, timeout=JOURNEY_SECONDS, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shots = out / "screenshots"
    if KEEP.exists():
        shutil.rmtree(KEEP)
    shutil.copytree(shots, KEEP)
    return shots


def _answers(out: Path) -> dict[str, str]:
    """The questionnaire answers the demo's store server holds for the customer who joined."""
    with sqlite3.connect(out / "server" / "store.db") as db:
        return dict(db.execute("select a.field, a.value from customer_answers a join customers c "
                               "on c.id = a.customer_id where c.phone = '+380501234567'").fetchall())


@pytest.mark.parametrize("lang", ["uk", "ru", "kk", "vi"])
def test_the_scripted_journey_passes_in_the_language_asked_for(tmp_path, lang):
    """`kiosk demo --scripted --lang` drives the screens in that language: every tap finds its translated button,
    the name is typed on that language's keyboard (a tone key in Vietnamese) and arrives at the server."""
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1", KIVY_NO_CONSOLELOG="1")
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--scripted", "--lang", lang, "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=JOURNEY_SECONDS, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(list((tmp_path / "screenshots").glob("*.png"))) == 22
    assert _answers(tmp_path) == {"name": DEMO_NAMES[lang], "birthday": DEMO_BIRTHDAY}


def test_every_step_of_the_journey_has_a_screenshot(journey):
    names = sorted(p.stem for p in journey.glob("*.png"))
    assert names == ["01-attract", "02-card-balance", "03-not-our-card", "04-register-phone",
                     "05-register-terms", "06-register-phone-typed", "07-register-questions", "08-question-name",
                     "09-keyboard-typed", "10-question-name-typed", "11-question-birthday",
                     "12-question-birthday-picked", "13-question-birthday-impossible", "14-question-birthday-fixed",
                     "15-register-code", "16-register-code-typed", "17-register-done", "18-synced", "19-home",
                     "20-card-number", "21-card-number-typed", "22-card-by-number"]


def test_the_questions_answered_by_touch_arrive_at_the_server(journey):
    """The name typed by tapping the on-screen keyboard's keys (a page turned to find them) and the birthday
    picked on the numpad and the month buttons, as the customer's answers on the server."""
    assert _answers(journey.parent) == {"name": "O'Neil", "birthday": DEMO_BIRTHDAY}


def test_the_keyboard_and_the_birthday_picker_are_drawn(journey):
    keyboard = Image.open(journey / "09-keyboard-typed.png").convert("RGB")
    # the line typed is a light field across the top, the keys below it panel-coloured tiles
    field = keyboard.crop((20, 50, 780, 110)).convert("L")
    assert sum(field.getdata()) / (760 * 60) > 200
    picker = Image.open(journey / "12-question-birthday-picked.png").convert("RGB")
    # the part to type again (the day of 31 September) is lit in the accent colour
    lit = sum(1 for px in picker.crop((16, 150, 412, 300)).getdata() if _close(px, JOIN_BUTTON))
    assert lit > 4000
    # 31 September: the message in the theme's red under the parts
    refused = Image.open(journey / "13-question-birthday-impossible.png").convert("RGB").crop((16, 250, 412, 380))
    assert sum(1 for px in refused.getdata() if _close(px, (255, 128, 120), 40)) > 300


def test_attract_screen_shows_the_join_button(journey):
    image = Image.open(journey / "01-attract.png").convert("RGB")
    assert image.size == (800, 480)
    accent = sum(1 for px in image.getdata() if _close(px, JOIN_BUTTON))
    # the join button spans the width of the screen: several percent of the pixels are its colour
    assert accent > 0.05 * image.size[0] * image.size[1]


def test_registration_screen_draws_a_numpad(journey):
    image = Image.open(journey / "04-register-phone.png").convert("RGB")
    right = image.crop((430, 20, 780, 460))
    colours = right.getcolors(maxcolors=1 << 16)
    assert colours is not None
    # twelve key tiles on a background: the key colour dominates the right half
    key_colour = max(colours)[1]
    assert key_colour != image.getpixel((425, 240))


def test_typed_phone_differs_from_the_empty_form(journey):
    empty = Image.open(journey / "04-register-phone.png").convert("RGB").crop((20, 74, 410, 134))
    typed = Image.open(journey / "06-register-phone-typed.png").convert("RGB").crop((20, 74, 410, 134))
    assert list(empty.getdata()) != list(typed.getdata())


def test_done_screen_shows_a_qr_code(journey):
    image = Image.open(journey / "17-register-done.png").convert("L")
    qr = image.crop((496, 110, 756, 370))
    dark = sum(1 for px in qr.getdata() if px < 60)
    light = sum(1 for px in qr.getdata() if px > 200)
    # a QR code is roughly half black, half white modules
    assert 0.25 < dark / (dark + light) < 0.75
