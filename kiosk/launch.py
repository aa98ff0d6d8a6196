"""Kivy settings that must be in place before Kivy opens its window, and what its first frame needs."""

from __future__ import annotations

import os

from .config import KioskConfig


def configure_window(config: KioskConfig) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    # An Esc from a scanner (or a stray key) must never quit the kiosk.
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("graphics", "width", str(config.width))
    Config.set("graphics", "height", str(config.height))
    Config.set("graphics", "fullscreen", "auto" if config.fullscreen else "0")
    Config.set("graphics", "resizable", "0")
    # The appliance's config.ini reads the panel through mtdev ("touch" in [input]); a mouse provider on top
    # would deliver every tap twice. Elsewhere (demo, development, tests) the mouse is how one clicks.
    if not Config.has_option("input", "touch"):
        Config.set("input", "mouse", "mouse,disable_multitouch")
    elif Config.has_option("input", "mouse"):
        Config.remove_option("input", "mouse")


def draw_first_frame_twice(window) -> None:
    """Draws the first frame again as soon as it has been shown.

    SDL2's KMS/DRM back end (the appliance's: no X, no Wayland) puts its first frame on the screen by setting
    the CRTC and every later one by a page flip. In the emulator image (Mesa's software renderer on the
    `bochs-drm` device, docs/image.md) that first frame never reached the screen, and the kiosk draws its
    attract screen in one frame and then waits for a customer: the screen stayed black until the first touch
    or scan. The second frame showed every time. One more frame, once, costs a few milliseconds."""
    from kivy.clock import Clock

    def again(*_args) -> None:
        window.unbind(on_flip=again)
        Clock.schedule_once(lambda _dt: window.canvas.ask_update(), 0)

    window.bind(on_flip=again)
