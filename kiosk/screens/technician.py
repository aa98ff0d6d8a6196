"""The technician's screens: they draw `app.pin` (the lock) and `app.tech` (the technician flow)."""

from __future__ import annotations

from datetime import datetime

from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from ..flows.technician import TOUCH_GRID
from ..i18n import _, ngettext
from ..messages import message
from .base import KioskScreen, RowsScreen
from .theme import THEME

# One label draws them all, as one texture: a GPU's texture limit (4096 px high on a Pi) caps the lines.
LOG_LINES = 80


def role_name(role: str) -> str:
    return {"entrance": _("entrance"), "cashier": _("cashier")}.get(role, role)


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%d.%m %H:%M:%S") if ts else "—"


class TechPinScreen(KioskScreen):
    pin_text = StringProperty("")
    error = StringProperty("")

    def render(self, app) -> None:
        lock = app.pin
        self.pin_text = "•" * len(lock.entry.text)
        locked = lock.locked_for()
        self.error = (_("Locked: try again in {seconds} s").format(seconds=locked) if locked
                      else message(lock.error))


class TechNewPinScreen(KioskScreen):
    prompt = StringProperty("")
    pin_text = StringProperty("")
    error = StringProperty("")
    forced = BooleanProperty(False)
    done = BooleanProperty(False)

    def render(self, app) -> None:
        change = app.pin_change
        self.forced, self.done = change.forced, change.done
        self.pin_text = "•" * len(change.entry.text)
        self.error = message(change.error)
        if change.done:
            self.prompt = _("PIN changed.")
        elif change.repeating:
            self.prompt = _("Type the new PIN again.")
        elif change.forced:
            self.prompt = _("This kiosk still has the PIN it shipped with. Choose your own PIN (4 to 8 digits).")
        else:
            self.prompt = _("Type the new PIN (4 to 8 digits).")


class TechMenuScreen(KioskScreen):
    status = StringProperty("")
    error = StringProperty("")
    role_name = StringProperty("")

    def render(self, app) -> None:
        flow = app.tech
        s = flow.status()
        self.role_name = role_name(s["role"])
        self.status = "\n".join([
            _("Server: {url}").format(url=s["server_url"] or "—"),
            _("Device: {device}").format(device=s["device_id"] or _("not enrolled")),
            _("Network: {state}").format(state=_("online") if s["online"] else _("offline")),
            _("Waiting to sync: {n}").format(n=s["pending"]),
            _("Failed: {n}").format(n=s["failed"]),
            _("Last sync: {when}").format(when=_when(s["last_success"])),
        ] + ([_("Last sync error ({when}): {error}").format(when=_when(s["last_error_at"]), error=s["last_error"])]
             if s["last_error"] else []))
        self.error = message(flow.error)


class TechEnrolScreen(KioskScreen):
    url = StringProperty("")
    error = StringProperty("")
    done = StringProperty("")

    def wipe(self) -> None:
        self.ids.token.text = ""
        self.ids.url.text = ""

    def render(self, app) -> None:
        flow = app.tech
        self.url = flow.status()["server_url"] or ""
        self.error = message(flow.error)
        self.done = _("Enrolled.") if flow.status()["device_id"] and not flow.error else ""


class TechFailedScreen(RowsScreen):
    hint = StringProperty("")

    def render(self, app) -> None:
        failed = app.tech.failed_operations()
        self.hint = (_("Refused by the server; tap one to send it again after fixing the cause.") if failed
                     else _("No failed operations."))
        rows = self.ids.rows
        rows.clear_widgets()
        room = max(1, int(rows.height // (app.scale * 86))) if rows.height > 10 else 4
        for op in failed[:room]:
            text = f"{op['at'][:16].replace('T', ' ')}   {op['type']}   {message(op['error']) or op['error']}"
            button = Factory.RowButton(text=text)
            button.bind(on_release=lambda _b, op_id=op["id"]: app.tech_event("retry", op_id))
            rows.add_widget(button)
        rows.add_widget(Factory.Widget())


class TechSelfTestScreen(KioskScreen):
    scanner_text = StringProperty("")
    leds = BooleanProperty(False)
    buzzer = BooleanProperty(False)
    touch = BooleanProperty(False)

    def render(self, app) -> None:
        test = app.tech.self_test
        self.scanner_text = (_("Scanner works: {code}").format(code=test.last_scan) if test.last_scan
                             else _("Scan any barcode to test the scanner."))
        self.leds, self.buzzer, self.touch = test.passed["leds"], test.passed["buzzer"], test.passed["touch"]
        grid = self.ids.grid
        grid.clear_widgets()
        grid.cols = TOUCH_GRID[0]
        for row in range(TOUCH_GRID[1]):
            for col in range(TOUCH_GRID[0]):
                cell = Factory.Button(background_normal="", text="")
                cell.background_color = THEME["GREEN"] if (col, row) in test.touched else THEME["PANEL"]
                cell.bind(on_press=lambda _b, c=col, r=row: app.tech_event("touch", c, r))
                grid.add_widget(cell)


class TechLogScreen(KioskScreen):
    hint = StringProperty("")
    lines = StringProperty("")

    def render(self, app) -> None:
        lines = app.tech.log_lines(LOG_LINES)
        self.hint = (_("Newest first. The full log: journalctl -u kiosk") if lines
                     else _("Nothing has been logged since the kiosk started."))
        self.lines = "\n".join(reversed(lines))


class TechResetScreen(KioskScreen):
    pending = NumericProperty(0)
    warning = StringProperty("")

    def render(self, app) -> None:
        self.pending = app.tech.status()["pending"]
        self.warning = ngettext(
            "This device forgets its enrolment, the card cache and {pending} operation not yet sent. It then "
            "restarts, ready to be enrolled again.",
            "This device forgets its enrolment, the card cache and {pending} operations not yet sent. It then "
            "restarts, ready to be enrolled again.", self.pending).format(pending=self.pending)
