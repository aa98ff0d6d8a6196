"""The language picker that the language button of every customer screen opens: one button per language of
the shop, each named in its own language, over the screen; a tap outside closes it unchanged."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.uix.floatlayout import FloatLayout

from ..i18n import LANGUAGES


class LanguagePicker(FloatLayout):
    covers_screen = True  # drawn over the screen on purpose: the gallery does not count it as an overlap

    def show(self, app) -> None:
        box = self.ids.choices
        box.clear_widgets()
        for lang in app.languages:
            button = Factory.QuietButton(text=LANGUAGES[lang], bold=lang == app.lang)
            if lang == app.lang:
                button.color = (0.96, 0.65, 0.14, 1)  # AMBER: the language on screen now
            button.bind(on_release=lambda _b, lang=lang: app.language_chosen(lang))
            box.add_widget(button)

    def on_touch_down(self, touch) -> bool:
        if not self.ids.choices.collide_point(*touch.pos):
            from kivy.app import App

            App.get_running_app().language_chosen(None)
            return True
        super().on_touch_down(touch)
        return True  # nothing under the picker takes the touch
