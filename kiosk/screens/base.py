from __future__ import annotations

from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from ..i18n import _


class KioskScreen(Screen):
    """A screen draws the state of a flow; it never decides anything itself."""

    def render(self, app) -> None:  # noqa: ARG002 - screens without state draw nothing
        return None

    def wipe(self) -> None:
        """Forgets what the last person typed into this screen's own fields (idle timeout, going home)."""
        return None


class CodeEntryScreen(KioskScreen):
    """A screen where the customer types the SMS code: the code, an error, and the resend countdown."""

    code_text = StringProperty("")
    error = StringProperty("")
    resend_in = NumericProperty(0)
    resend_text = StringProperty("")

    def show_resend(self, seconds: float) -> None:
        self.resend_in = max(0, int(seconds))
        self.resend_text = (_("Send the code again in {seconds} s").format(seconds=self.resend_in)
                            if self.resend_in else _("Send the code again"))
