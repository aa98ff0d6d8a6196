"""Every screen, in every language, at every panel size, saved as PNG: what a person checks by eye.

One Kivy app per process (Kivy cannot start twice); the window is resized between sizes. Screens are fed
flow states directly: this is about drawing, the journeys test behaviour. Besides the pictures, each
label whose text does not fit its box (spills out: "overflow"; drawn shortened, with lines dropped or a word
broken: "cut"), or that lies outside the window, is reported in overflow.json; buttons and fields under 15 mm
on the panel in targets.json; labels, buttons and fields that cover each other in overlap.json.

    python -m devtools.gallery --out test-output/screens --langs en,uk --sizes 800x480,480x800
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kiosk.screens import scale

SIZES = ((800, 480), (480, 800), (1280, 800), (800, 1280), (1920, 1080), (1080, 1920), (1280, 720), (720, 1280))
# The smallest panel each size is sold as, so touch targets are judged where they come out smallest: the
# official 7" display, 10.1" HDMI touchscreens (1280x800 and 1920x1080 alike), Touch Display 2 (7"; its 5"
# model is smaller still). Other sizes: as a 7" panel. Keyed by (long side, short side): portrait alike.
PANEL_INCHES = {(800, 480): 7.0, (1280, 800): 10.1, (1920, 1080): 10.1, (1280, 720): 7.0}
SLACK = 2  # px: rounding in Kivy's text layout
SETTLE_FRAMES = 6
MARKUP_TAG = re.compile(r"\[/?[a-z_]+(?:=[^\]]*)?\]")
LONGEST_WORD = 30  # characters: longer "words" are paths, URLs, tokens, which may break anywhere


def panel_inches(size: tuple[int, int]) -> float:
    return PANEL_INCHES.get((max(size), min(size)), 7.0)


def mm_per_px(size: tuple[int, int]) -> float:
    return scale.mm_per_px(*size, panel_inches(size))


def _scrolled(widget) -> bool:
    """Inside a ScrollView: out of the window or under other widgets is where scrolled-away content is."""
    from kivy.uix.scrollview import ScrollView

    return any(isinstance(p, ScrollView) for p in _parents(widget))


def _visible(widget) -> bool:
    return widget.opacity > 0 and not any(getattr(p, "opacity", 1) == 0 for p in _parents(widget))


def text_problem(widget) -> tuple[str, str] | None:
    """Why a label's text does not show whole in its box: ("overflow", ...) when it spills out,
    ("cut", ...) when Kivy drew less than the text (shortened with "…", lines dropped, a word broken)."""
    widget.texture_update()
    tw, th = widget.texture_size
    if tw > widget.width + SLACK or th > widget.height + SLACK:
        return "overflow", f"text {tw}x{th} in a box of {widget.width:.0f}x{widget.height:.0f}"
    core = widget._label  # what Kivy laid out and drew: the only place a shortened text shows
    if core.is_shortened:
        return "cut", "shortened with an ellipsis"
    text = widget.text
    if widget.markup:
        text = MARKUP_TAG.sub("", text).replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")
    drawn = "\n".join("".join(word.text for word in line.words) for line in core._cached_lines).split()
    words = text.split()
    if drawn != words:
        if "".join(drawn) == "".join(words):
            if all(len(word) > LONGEST_WORD for word in set(words) - set(drawn)):
                return None
            return "cut", "a word broken across lines"
        return "cut", f"{len(' '.join(drawn))} of {len(' '.join(words))} characters drawn"
    (laid_w, laid_h), (box_w, box_h) = core._internal_size, core.text_size
    if box_h is not None and laid_h > box_h + SLACK:
        # valign middle lays out every line and the texture keeps only the box's height of them
        return "cut", f"{laid_h} px of lines in a text box {box_h:.0f} px high"
    if box_w is not None and laid_w > box_w + SLACK:
        return "overflow", f"a line {laid_w} px wide in a text box {box_w:.0f} px wide"
    return None


def hint_problem(field) -> tuple[str, str] | None:
    """An empty text field's hint wider than the field: Kivy draws it cut at the right edge, with no "…"."""
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(font_size=field.font_size, font_name=field.font_name)
    core.resolve_font_name()
    wide = core.get_extents(field.hint_text)[0]
    room = field.width - field.padding[0] - field.padding[2]
    return ("cut", f"hint {wide} px wide in a field with {room:.0f} px for text") if wide > room + SLACK else None


def overflowing_labels(window, window_size: tuple[int, int]) -> list[dict]:
    """Visible labels (buttons too) whose text is cut or spills out of its box, or whose box leaves the window;
    empty text fields whose hint is cut."""
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    found = []
    width, height = window_size
    for widget in _walk(window):
        if isinstance(widget, TextInput) and not widget.text and widget.hint_text and _visible(widget):
            problem = hint_problem(widget)
            if problem:
                found.append({"text": widget.hint_text[:80], "reason": problem[0], "problem": problem[1]})
            continue
        if not isinstance(widget, Label) or not widget.text or not _visible(widget):
            continue
        problem = text_problem(widget)
        x, y = widget.to_window(*widget.pos)
        if problem is None and not _scrolled(widget) and (x < -SLACK or y < -SLACK or x + widget.width > width + SLACK
                                or y + widget.height > height + SLACK):
            problem = "overflow", f"box at {x:.0f},{y:.0f} size {widget.width:.0f}x{widget.height:.0f} outside"
        if problem:
            found.append({"text": widget.text[:80], "reason": problem[0], "problem": problem[1]})
    return found


def _walk(window) -> Iterator:
    return (w for child in window.children for w in child.walk(restrict=True))


def _enabled(widget) -> bool:
    return (not widget.disabled and _visible(widget)
            and not any(getattr(p, "disabled", False) for p in _parents(widget)))


def pressable(window) -> list[str]:
    from kivy.uix.button import Button

    return [w.text for w in _walk(window) if isinstance(w, Button) and w.text and _enabled(w)]


def small_targets(window, window_size: tuple[int, int]) -> list[dict]:
    """Buttons and text fields a finger can reach whose shorter side is under 15 mm on the panel."""
    from kivy.uix.button import Button
    from kivy.uix.textinput import TextInput

    mm = mm_per_px(window_size)
    return [{"text": (w.text or getattr(w, "hint_text", ""))[:40],
             "mm": f"{w.width * mm:.1f}x{w.height * mm:.1f}"}
            for w in _walk(window) if isinstance(w, Button | TextInput) and _enabled(w)
            and min(w.width, w.height) * mm < scale.MIN_TARGET_MM - 0.05]


def overlapping(window) -> list[dict]:
    """Pairs of visible labels, buttons and fields that cover each other (a layout squeezed past its room)."""
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    boxes = []
    for w in _walk(window):
        if any(getattr(p, "covers_screen", False) for p in _parents(w)):
            continue  # a band meant to lie over the screen (the idle countdown)
        if isinstance(w, Label | TextInput) and (w.text or isinstance(w, TextInput)) and _visible(w) \
                and w.width > 0 and w.height > 0 and not _scrolled(w):
            x, y = w.to_window(*w.pos)
            boxes.append((w, x, y, x + w.width, y + w.height))
    found = []
    for i, (a, ax, ay, ax2, ay2) in enumerate(boxes):
        for b, bx, by, bx2, by2 in boxes[i + 1:]:
            if min(ax2, bx2) - max(ax, bx) > SLACK and min(ay2, by2) - max(ay, by) > SLACK:
                found.append({"text": (a.text or "")[:40], "over": (b.text or "")[:40]})
    return found


def _parents(widget) -> Iterator:
    parent = widget.parent
    while parent is not None and parent is not parent.parent:
        yield parent
        parent = parent.parent


def save_window(path: Path, size: tuple[int, int]) -> None:
    """What the window shows, as PNG; quick compression because hundreds are written per run."""
    from kivy.graphics.opengl import GL_PACK_ALIGNMENT, GL_RGB, GL_UNSIGNED_BYTE, glPixelStorei, glReadPixels
    from PIL import Image

    glPixelStorei(GL_PACK_ALIGNMENT, 1)
    pixels = glReadPixels(0, 0, size[0], size[1], GL_RGB, GL_UNSIGNED_BYTE)
    image = Image.frombytes("RGB", size, pixels).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    image.save(path, compress_level=1)


class Gallery:
    def __init__(self, app, scenes: list[tuple[str, Callable]], langs: list[str],
                 sizes: list[tuple[int, int]], out: Path, on_finish: Callable[[], None]) -> None:
        self.app, self.scenes, self.out = app, scenes, out
        self.plan = [(lang, size, scene) for size in sizes for lang in langs for scene in scenes]
        self.on_finish = on_finish
        # per screen: text cut or spilling (overflow.json), targets under 15 mm (targets.json), widgets that
        # cover each other (overlap.json)
        self.reports: dict[str, dict[str, list[dict]]] = {"overflow": {}, "targets": {}, "overlap": {}}
        self.buttons: dict[str, list[str]] = {}  # what a finger could press on each screen
        self.index = -1

    def start(self) -> None:
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: self._next(), 0.3)

    def _next(self) -> None:
        from kivy.clock import Clock
        from kivy.core.window import Window

        self.index += 1
        if self.index >= len(self.plan):
            for report, found in self.reports.items():
                (self.out / f"{report}.json").write_text(json.dumps(found, ensure_ascii=False, indent=1),
                                                         encoding="utf-8")
            (self.out / "buttons.json").write_text(json.dumps(self.buttons, ensure_ascii=False, indent=1),
                                                   encoding="utf-8")
            self.on_finish()
            return
        lang, size, (name, setup) = self.plan[self.index]
        if tuple(Window.size) != size:
            Window.size = size
        if self.app.kiosk_config.panel_inches != panel_inches(size):
            # as that panel's kiosk.toml would say: the app keeps 15 mm buttons on a small, dense panel
            self.app.set_panel(panel_inches(size))
        self.app.go_home()  # (the shop's own language again, as for every new customer)
        if self.app.lang != lang:
            self.app.switch_language(lang)
        screen = setup(self.app)
        self.app.show(screen)
        self.app.sm.transition.duration = 0
        # layouts settle over a few frames (texture sizes feed back into heights)
        Clock.schedule_once(lambda _dt: Clock.schedule_once(lambda _dt: Clock.schedule_once(self._shoot, 0), 0),
                            0)

    def _shoot(self, _dt, settle: int = 0) -> None:
        from kivy.clock import Clock

        lang, size, (name, _setup) = self.plan[self.index]
        window = self.app.root_window
        problems = {"overflow": overflowing_labels(window, size), "overlap": overlapping(window)}
        if any(problems.values()) and settle < SETTLE_FRAMES:
            # heights that follow wrapped text converge over a few frames; judge the settled screen
            Clock.schedule_once(lambda _dt: self._shoot(_dt, settle + 1), 0)
            return
        problems["targets"] = small_targets(window, size)
        folder = self.out / f"{lang}-{size[0]}x{size[1]}"
        folder.mkdir(parents=True, exist_ok=True)
        save_window(folder / f"{name}.png", size)
        key = f"{lang}-{size[0]}x{size[1]}/{name}"
        for report, found in problems.items():
            if found:
                self.reports[report][key] = found
        self.buttons[key] = pressable(self.app.root_window)
        self._next()


def run(out: Path, langs: list[str], sizes: list[tuple[int, int]], role: str = "cashier",
        only: list[str] | None = None) -> int:
    from kiosk.backend import Backend
    from kiosk.client import StoreClient
    from kiosk.config import KioskConfig
    from kiosk.launch import configure_window
    from kiosk.store import LocalStore

    out.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="kiosk-gallery-"))
    config = KioskConfig(server_url="http://127.0.0.1:9", role=role, language=langs[0], state_dir=state,
                         fullscreen=False, width=sizes[0][0], height=sizes[0][1], idle_timeout=3600,
                         languages=["uk", "en", "ru", "kk", "vi"])
    configure_window(config)
    from kivy.config import Config

    Config.set("graphics", "resizable", "1")
    Config.set("graphics", "maxfps", "0")  # nobody watches: draw as fast as the machine can
    from devtools.gallery_scenes import scenes
    from drivers.scanner.base import ScanQueue
    from kiosk.app import KioskApp

    store = LocalStore(config.database)
    store.set_setting("shop_name", "Demo Shop")
    backend = Backend(store, StoreClient(config.server_url, timeout=0.2), None, country="UA")
    app = KioskApp(config, backend, ScanQueue())
    started = time.monotonic()

    def begin(_app) -> None:
        chosen = [(name, setup) for name, setup in scenes()
                  if not only or any(fnmatch.fnmatch(name, pattern) for pattern in only)]
        app.gallery = Gallery(app, chosen, langs, sizes, out, app.stop)
        app.gallery.start()

    app.bind(on_start=begin)
    app.run()
    store.close()
    shots = len(app.gallery.plan) if hasattr(app, "gallery") else 0
    print(f"{shots} screens in {time.monotonic() - started:.1f} s; overflow report in {out / 'overflow.json'}")
    return 0 if shots else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="test-output/screens")
    parser.add_argument("--langs", default="en,uk,ru,kk,vi")
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES))
    parser.add_argument("--scenes", default="", help="only these scenes (comma-separated, * wildcards): "
                        "a quick look while working on one screen")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    return run(Path(args.out), args.langs.split(","), sizes, only=[p for p in args.scenes.split(",") if p])


if __name__ == "__main__":
    sys.exit(main())
