"""The registration's done screen, drawn by the real app under Xvfb: its QR, read back module by module from the
screenshot, is the card page's link when the server gave one, and the card number's `lk://card/` otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import qrcode
from PIL import Image

from devtools.gallery_scenes import scenes

# A Kivy window in a child process starts in seconds when idle and several times slower on a loaded
# machine; the deadline is there to catch a hung window, not a slow machine.
CHILD_SECONDS = 600
pytestmark = [pytest.mark.ui, pytest.mark.timeout(CHILD_SECONDS + 120)]

ROOT = Path(__file__).resolve().parents[2]
SCENES = ("register-done", "register-done-link")
LINK = "http://192.168.1.10:8700/c/Ab3dEf6hIj9kLm2nOp5qRs8tUv"  # the card_link of devtools/gallery_scenes.py's scene
# Only these two scenes of the gallery, in English at the panel's own size (the full gallery is test_screens.py).
RENDER = ("import sys; from pathlib import Path; import devtools.gallery_scenes as s; every = s.scenes; "
          f"s.scenes = lambda: [x for x in every() if x[0] in {SCENES!r}]; "
          "from devtools import gallery; sys.exit(gallery.run(Path(sys.argv[1]), ['en'], [(800, 480)]))")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    if not os.environ.get("DISPLAY"):
        pytest.fail("the UI tests need a display: run them through ./scripts/test, which starts Xvfb")
    out = tmp_path_factory.mktemp("done-qr")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1", KIVY_NO_CONSOLELOG="1")
    proc = subprocess.run([sys.executable, "-c", RENDER, str(out)], capture_output=True, text=True,
                          timeout=CHILD_SECONDS, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out / "en-800x480"


def modules_on_screen(png: Path, size: int) -> set[tuple[int, int]]:
    """The dark modules of the QR in the right half of the screen: the columns and rows mostly white (its
    quiet zone and light modules), which a line of white text beside it never is."""
    image = Image.open(png).convert("L")
    right = image.crop((image.width // 2, 0, image.width, image.height))
    bright = [[right.getpixel((x, y)) > 200 for x in range(right.width)] for y in range(right.height)]
    columns = [x for x in range(right.width) if sum(row[x] for row in bright) > right.height // 5]
    rows = [y for y in range(right.height) if sum(bright[y][x] for x in columns) > len(columns) // 5]
    left, top, end_x, end_y = columns[0], rows[0], columns[-1] + 1, rows[-1] + 1
    step = (end_x - left) / size
    assert abs((end_y - top) / size - step) < 0.5, "the QR is not square on screen"
    return {(x, y) for y in range(size) for x in range(size)
            if right.getpixel((int(left + (x + 0.5) * step), int(top + (y + 0.5) * step))) < 128}


def modules(payload: str) -> tuple[set[tuple[int, int]], int]:
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)  # as kiosk/screens/qr.py
    qr.add_data(payload)
    matrix = qr.get_matrix()
    return {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}, len(matrix)


def test_the_done_screen_shows_the_card_pages_link_as_its_qr(shots):
    assert set(SCENES) <= {name for name, _setup in scenes()}
    expected, size = modules(LINK)
    assert modules_on_screen(shots / "register-done-link.png", size) == expected


def test_without_a_link_the_done_screen_shows_the_card_numbers_qr(shots):
    expected, size = modules("lk://card/9000000001")
    assert modules_on_screen(shots / "register-done.png", size) == expected
    # and it is not the link's QR by accident
    link_modules, link_size = modules(LINK)
    assert (link_modules, link_size) != (expected, size)
