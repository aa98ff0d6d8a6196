from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from ..i18n import BUTTON_LABELS
from .base import KioskScreen


class LanguageBar(BoxLayout):
    """One button per language the shop offers, each labelled in its own language."""

    def show(self, app, languages: list[str]) -> None:
        self.clear_widgets()
        for lang in languages:
            button = Factory.LangButton(text=BUTTON_LABELS[lang])
            button.bind(on_release=lambda _b, lang=lang: app.switch_language(lang))
            self.add_widget(button)


class AttractScreen(KioskScreen):
    notice = StringProperty("")
    till = BooleanProperty(False)  # a cashier's device: the phone may be typed too

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        self._find = self.ids.find_card.__self__  # ids are weak: taken out of the row, it must live on

    def render(self, app) -> None:
        self.till = app.role == "cashier"
        self.ids.languages.show(app, app.languages)
        row, find = self.ids.ways_in, self._find
        if self.till and find.parent is not None:
            row.remove_widget(find)
        elif not self.till and find.parent is None:
            row.add_widget(find)  # after "type the number"
