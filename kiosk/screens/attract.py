from __future__ import annotations

from kivy.properties import StringProperty

from .base import KioskScreen


class AttractScreen(KioskScreen):
    notice = StringProperty("")
