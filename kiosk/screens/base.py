from __future__ import annotations

from kivy.uix.screenmanager import Screen


class KioskScreen(Screen):
    """A screen draws the state of a flow; it never decides anything itself."""

    def render(self, app) -> None:  # noqa: ARG002 - screens without state draw nothing
        return None

    def wipe(self) -> None:
        """Forgets what the last person typed into this screen's own fields (idle timeout, going home)."""
        return None
