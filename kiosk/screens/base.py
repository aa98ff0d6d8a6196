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


class RowsScreen(KioskScreen):
    """A screen listing as many rows as its `rows` box has room for. It draws them again once the box has its
    size: the first render of a new screen comes before its layout, when the box is Kivy's default 100 px."""

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        self.ids.rows.bind(height=self._rows_resized)

    def _rows_resized(self, *_args) -> None:
        from kivy.app import App

        if self.manager is not None and self.manager.current == self.name:
            self.render(App.get_running_app())


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
