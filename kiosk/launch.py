"""Kivy settings that must be in place before Kivy opens its window."""

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
