"""The on-screen keyboard (draws `app.keyboard`, a KeyboardFlow): the line typed, then as many 15 mm keys as the
screen has room for, the controls last."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import StringProperty

from ..flows.keyboard import NAMES, Key
from ..i18n import _
from .base import RowsScreen

TARGET = 80  # dp, as in theme.kv: 15 mm on a 7" panel
GAP = 6  # dp between keys


class KeyboardScreen(RowsScreen):
    prompt = StringProperty("")
    text = StringProperty("")

    def wipe(self) -> None:
        self.text = ""
        self.ids.field.text = ""

    def grid(self, app) -> tuple[int, int]:
        """Columns and rows of 15 mm keys that fit below the line typed (before the first layout: a 7" guess)."""
        rows_box, controls = self.ids.rows, self.ids.controls
        cell, gap = dp(TARGET + GAP) * app.scale, dp(GAP) * app.scale
        laid_out = rows_box.height > 10
        width = rows_box.width if laid_out else dp(780) * app.scale
        height = rows_box.height + controls.height + gap if laid_out else dp(340) * app.scale
        return max(4, int((width + gap) // cell)), max(3, int((height + gap) // cell))

    def render(self, app) -> None:
        flow = app.keyboard
        if flow is None:
            return
        self.prompt, self.text = flow.prompt, flow.text
        field = self.ids.field
        if field.text != flow.text:
            field.text = flow.text
        field.focus = True  # a technician's USB keyboard types here, and the scanner wedge stays out
        cols, rows = self.grid(app)
        # the controls in one row where nine keys fit across (Space and Done twice as wide), else in two
        one_row = cols >= 9
        control_rows = 1 if one_row else 2
        room = cols * (rows - control_rows)
        paged = flow.pages(room) > 1
        key_height, gap = dp(TARGET) * app.scale, dp(GAP) * app.scale
        box = self.ids.rows
        box.clear_widgets()
        box.cols, box.row_default_height, box.spacing = cols, key_height, gap
        for key in flow.page_keys(room):
            button = Factory.LetterKey(text=key.label(flow.shift))
            button.bind(on_release=lambda _b, key=key: app.keyboard_event(key))
            box.add_widget(button)
        controls = self.ids.controls
        controls.clear_widgets()
        controls.spacing = gap
        controls.height = control_rows * key_height + (control_rows - 1) * gap
        first = ["back", "shift", "alphabet"] + (["page"] if paged else [])
        second = ["space", "delete", "done"]
        for actions in ([first + second] if one_row else [first, second]):
            row = Factory.BoxLayout(spacing=gap, size_hint_y=None, height=key_height)
            for action in actions:
                row.add_widget(self._control(app, action, flow, room))
            controls.add_widget(row)

    def _control(self, app, action: str, flow, room: int):
        if action == "done":
            button = Factory.BigButton(text=_("Done"), size_hint_x=2)
        else:
            button = Factory.QuietButton(text=self.control_label(action, flow, room),
                                         size_hint_x=2 if action == "space" else 1)
        if action in ("shift", "delete", "page"):
            button.font_name = app.symbol_font
        if action == "shift" and flow.shift:
            button.color = (0.96, 0.65, 0.14, 1)  # AMBER: the next letter comes as a capital
        button.bind(on_release=lambda _b: app.keyboard_event(Key(action)))
        return button

    def control_label(self, action: str, flow, room: int) -> str:
        if action == "alphabet":  # the set the key switches to
            return NAMES[flow.sets[(flow.sets.index(flow.alphabet) + 1) % len(flow.sets)]]
        if action == "page":
            return f"{flow.page + 1}/{flow.pages(room)} ▸"
        return {"back": _("Back"), "shift": "⇧", "space": _("Space"), "delete": "⌫"}.get(action, "")
