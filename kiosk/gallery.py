"""Every screen, in every language, at every panel size, saved as PNG: what a person checks by eye.

One Kivy app per process (Kivy cannot start twice); the window is resized between sizes. Screens are fed
flow states directly: this is about drawing, the journeys test behaviour. Besides the pictures, each
label whose text does not fit its box, or that lies outside the window, is reported in overflow.json.

    python -m kiosk.gallery --out test-output/screens --langs en,uk --sizes 800x480,480x800
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SIZES = ((800, 480), (480, 800), (1280, 800), (1920, 1080))
SLACK = 2  # px: rounding in Kivy's text layout
SETTLE_FRAMES = 6


def overflowing_labels(window, window_size: tuple[int, int]) -> list[dict]:
    from kivy.uix.label import Label

    found = []
    width, height = window_size
    widgets = [w for child in window.children for w in child.walk(restrict=True)]
    for widget in widgets:
        if not isinstance(widget, Label) or not widget.text or widget.opacity == 0:
            continue
        if any(getattr(p, "opacity", 1) == 0 for p in _parents(widget)):
            continue
        widget.texture_update()
        tw, th = widget.texture_size
        x, y = widget.to_window(*widget.pos)
        problem = None
        if tw > widget.width + SLACK or th > widget.height + SLACK:
            problem = f"text {tw}x{th} in a box of {widget.width:.0f}x{widget.height:.0f}"
        elif x < -SLACK or y < -SLACK or x + widget.width > width + SLACK or y + widget.height > height + SLACK:
            problem = f"box at {x:.0f},{y:.0f} size {widget.width:.0f}x{widget.height:.0f} leaves the window"
        if problem:
            found.append({"text": widget.text[:80], "problem": problem})
    return found


def pressable(window) -> list[str]:
    from kivy.uix.button import Button

    return [w.text for child in window.children for w in child.walk(restrict=True)
            if isinstance(w, Button) and w.text and not w.disabled and w.opacity > 0
            and not any(getattr(p, "opacity", 1) == 0 or getattr(p, "disabled", False) for p in _parents(w))]


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
        self.overflow: dict[str, list[dict]] = {}
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
            (self.out / "overflow.json").write_text(json.dumps(self.overflow, ensure_ascii=False, indent=1),
                                                    encoding="utf-8")
            (self.out / "buttons.json").write_text(json.dumps(self.buttons, ensure_ascii=False, indent=1),
                                                   encoding="utf-8")
            self.on_finish()
            return
        lang, size, (name, setup) = self.plan[self.index]
        if tuple(Window.size) != size:
            Window.size = size
        if self.app.lang != lang:
            self.app.switch_language(lang)
        self.app.go_home()
        screen = setup(self.app)
        self.app.show(screen)
        self.app.sm.transition.duration = 0
        # layouts settle over a few frames (texture sizes feed back into heights)
        Clock.schedule_once(lambda _dt: Clock.schedule_once(lambda _dt: Clock.schedule_once(self._shoot, 0), 0),
                            0)

    def _shoot(self, _dt, settle: int = 0) -> None:
        from kivy.clock import Clock

        lang, size, (name, _setup) = self.plan[self.index]
        problems = overflowing_labels(self.app.root_window, size)
        if problems and settle < SETTLE_FRAMES:
            # heights that follow wrapped text converge over a few frames; judge the settled screen
            Clock.schedule_once(lambda _dt: self._shoot(_dt, settle + 1), 0)
            return
        folder = self.out / f"{lang}-{size[0]}x{size[1]}"
        folder.mkdir(parents=True, exist_ok=True)
        save_window(folder / f"{name}.png", size)
        key = f"{lang}-{size[0]}x{size[1]}/{name}"
        if problems:
            self.overflow[key] = problems
        self.buttons[key] = pressable(self.app.root_window)
        self._next()


def run(out: Path, langs: list[str], sizes: list[tuple[int, int]], role: str = "cashier") -> int:
    from .backend import Backend
    from .client import StoreClient
    from .config import KioskConfig
    from .launch import configure_window
    from .store import LocalStore

    out.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="kiosk-gallery-"))
    config = KioskConfig(server_url="http://127.0.0.1:9", role=role, language=langs[0], state_dir=state,
                         fullscreen=False, width=sizes[0][0], height=sizes[0][1], idle_timeout=3600,
                         languages=["uk", "en", "ru", "kk", "vi"])
    configure_window(config)
    from kivy.config import Config

    Config.set("graphics", "resizable", "1")
    Config.set("graphics", "maxfps", "0")  # nobody watches: draw as fast as the machine can
    from drivers.scanner.base import ScanQueue

    from .app import KioskApp
    from .gallery_scenes import scenes

    store = LocalStore(config.database)
    store.set_setting("shop_name", "Demo Shop")
    backend = Backend(store, StoreClient(config.server_url, timeout=0.2), None, country="UA")
    app = KioskApp(config, backend, ScanQueue())
    started = time.monotonic()

    def begin(_app) -> None:
        app.gallery = Gallery(app, scenes(), langs, sizes, out, app.stop)
        app.gallery.start()

    app.bind(on_start=begin)
    app.run()
    store.close()
    shots = len(app.gallery.plan) if hasattr(app, "gallery") else 0
    print(f"{shots} screens in {time.monotonic() - started:.1f} s; overflow report in {out / 'overflow.json'}")
    return 0 if shots else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="test-output/screens")
    parser.add_argument("--langs", default="en,uk,ru,kk,vi")
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES))
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    return run(Path(args.out), args.langs.split(","), sizes)


if __name__ == "__main__":
    sys.exit(main())
