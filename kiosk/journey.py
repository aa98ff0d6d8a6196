"""A scripted customer journey through the real app: used by `kiosk demo --scripted` and the UI tests.

Each step acts like a customer (a scan, numpad presses) and waits, with a deadline, until the screen
shows the result, then saves a screenshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kivy.clock import Clock

from drivers.scanner.base import Scan

from .demo import DEMO_BIRTHDAY, DEMO_NAME_KEYS, DEMO_NAMES


@dataclass
class Step:
    name: str
    act: Callable[[], None]
    until: Callable[[], bool]
    timeout: float = 15.0


class JourneyFailed(Exception):
    pass


class Journey:
    def __init__(self, app, steps: list[Step], out_dir: Path, on_finish: Callable[[str | None], None]) -> None:
        self.app = app
        self.steps = steps
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.on_finish = on_finish
        self.shots: list[Path] = []
        self._index = -1
        self._deadline = 0.0

    def start(self) -> None:
        Clock.schedule_once(lambda _dt: self._next(), 0.5)

    def _next(self) -> None:
        self._index += 1
        if self._index >= len(self.steps):
            self.on_finish(None)
            return
        step = self.steps[self._index]
        try:
            step.act()
        except Exception as e:  # a button not on the screen, ...: said as the step's failure, not a crash
            self.on_finish(f"step {step.name!r} could not act on {self.app.sm.current!r}: {e!r}")
            return
        self._deadline = time.monotonic() + step.timeout
        Clock.schedule_once(self._wait, 0.05)

    def _wait(self, _dt) -> None:
        step = self.steps[self._index]
        try:
            reached = step.until()
        except Exception as e:  # a key not on the keyboard, ...: the step's failure, not a crash of the app
            self.on_finish(f"step {step.name!r} failed on {self.app.sm.current!r}: {e!r}")
            return
        if reached and not self.app.busy:
            # two frames so the screen is drawn before the picture is taken
            Clock.schedule_once(lambda _dt: Clock.schedule_once(self._shoot, 0), 0.25)
            return
        if time.monotonic() > self._deadline:
            self.on_finish(f"step {step.name!r} did not reach its screen within {step.timeout:.0f} s "
                           f"(on {self.app.sm.current!r})")
            return
        Clock.schedule_once(self._wait, 0.05)

    def _shoot(self, _dt) -> None:
        path = self.out_dir / f"{self._index + 1:02d}-{self.steps[self._index].name}.png"
        self.app.root_window.screenshot(name=str(path))
        # Window.screenshot appends a counter before the extension; keep our own name.
        written = sorted(self.out_dir.glob(f"{path.stem}*.png"), key=lambda p: p.stat().st_mtime)[-1]
        if written != path:
            written.replace(path)
        self.shots.append(path)
        self._next()


def type_on_window(text: str) -> None:
    """Types `text` + Enter into the window, as a scanner in keyboard mode does (the keyboard wedge)."""
    from kivy.core.window import Window

    for ch in text:
        Window.dispatch("on_textinput", ch)
    Window.dispatch("on_key_down", 13, 40, None, [])


# a step of several taps, each a frame or two apart: on a loaded machine a frame can take a second
TAPPING = 60.0


class Taps:
    """Taps buttons one after another by their labels, as a step's `until`: each tap waits until the screen has
    been drawn after the one before, because the keyboard and the questionnaire's numpad are new widgets after
    each press, laid out on the next frame. A label not on the screen turns the keyboard's page ("1/2 ▸")."""

    def __init__(self, app, labels: list[str]) -> None:
        self.app, self.labels = app, list(labels)
        self.tapped = 0
        self.pages_turned = 0
        self._turns = 0
        self._frame = -10

    def __call__(self) -> bool:
        if self.tapped >= len(self.labels):
            return True
        if Clock.frames < self._frame + 2:
            return False
        self._frame = Clock.frames
        label = self.labels[self.tapped]
        try:
            widget = _button(self.app, label)
        except JourneyFailed:
            page = _button_where(self.app, lambda text: text.endswith("▸"))
            if page is None or self._turns > 10:
                raise
            tap_widget(page)
            self._turns += 1
            self.pages_turned += 1
            return False
        tap_widget(widget)
        self.tapped, self._turns = self.tapped + 1, 0
        return False


def questionnaire_steps(app, lang: str) -> list[Step]:
    """The demo shop's questions by touch: the name typed on the on-screen keyboard (its keys tapped, pages
    turned, a Vietnamese tone), the birthday on its picker (day and year on the numpad, the month by name; 31
    September refused, then corrected)."""
    from .flows.date_picker import month_names, part_order
    from .i18n import _

    current = lambda: app.sm.current  # noqa: E731
    questions = lambda: app.register.questions  # noqa: E731
    keys = DEMO_NAME_KEYS.get(lang, DEMO_NAME_KEYS["en"])
    name = DEMO_NAMES.get(lang, DEMO_NAMES["en"])
    typing = Taps(app, keys)
    # first a day September does not have, as a slip of the finger: the picker says so and the day is typed again
    birthday = {"day": ["3", "1"], "month": [month_names(lang)[8]], "year": ["1", "9", "9", "0"]}
    picking = Taps(app, [key for part in part_order(lang) for key in birthday[part]])
    fixing = Taps(app, ["1", "4"])
    return [
        Step("question-name", lambda: tap(app, _("Tap here to type")), lambda: current() == "keyboard"),
        Step("keyboard-typed", lambda: None,
             lambda: typing() and app.keyboard is not None and app.keyboard.text == name, timeout=TAPPING),
        Step("question-name-typed", lambda: tap(app, _("Done")),
             lambda: current() == "register_questions" and questions().typed == name
             and typing.pages_turned > 0),
        Step("question-birthday", lambda: tap(app, _("Next")),
             lambda: questions().field is not None and questions().field["key"] == "birthday"),
        # the picker says it as soon as the year is typed, with the day lit to type again
        Step("question-birthday-picked", lambda: None,
             lambda: picking() and questions().date is not None and questions().date.complete
             and questions().error == "date_impossible" and questions().date.part == "day", timeout=TAPPING),
        # and Next does not go on with it
        Step("question-birthday-impossible", lambda: tap(app, _("Next")),
             lambda: questions().error == "date_impossible" and questions().field["key"] == "birthday"),
        Step("question-birthday-fixed", lambda: None,
             lambda: fixing() and questions().date.result() == DEMO_BIRTHDAY, timeout=TAPPING),
    ]


def customer_steps(app, *, card: str, phone: str, read_code: Callable[[str], str],
                   lang: str = "en") -> list[Step]:
    """Scan a card and see the balance; then join with a phone number (grouped as typed), the shop's questions
    answered by touch and the SMS code; then find the card by typing its number."""
    from .i18n import _
    from .screens.format import phone_as_typed

    current = lambda: app.sm.current  # noqa: E731

    def press_all(keys: str) -> None:
        for key in keys:
            app.numpad(key)

    def enter_code() -> None:
        press_all(read_code(phone))

    return [
        Step("attract", lambda: app.switch_language(lang), lambda: current() == "attract"),
        # The lights answer too: a beep with green for a card, two with red for a barcode that is not ours.
        Step("card-balance", lambda: type_on_window(card),
             lambda: current() == "card" and app.indicators.history[-1:] == ["scan_ok"]),
        Step("not-our-card", lambda: (app.go_home(), app.scans.put(Scan("HELLO-123", "demo"))),
             lambda: current() == "attract" and bool(app.sm.get_screen("attract").notice)
             and app.indicators.history[-1:] == ["error"]),
        Step("register-phone", lambda: app.start_registration(), lambda: current() == "register_phone"),
        # the consent: the terms on screen, read, then accepted there
        Step("register-terms", lambda: (press_all(phone), app.register_event("read_terms")),
             lambda: current() == "register_terms"),
        Step("register-phone-typed", lambda: app.register_event("accept_terms"),
             lambda: current() == "register_phone" and app.register is not None and app.register.consent
             and app.screen("register_phone").phone_text == phone_as_typed(phone, app.backend.country) != phone),
        Step("register-questions", lambda: tap(app, _("Send me a code")), lambda: current() == "register_questions"),
        *questionnaire_steps(app, lang),
        Step("register-code", lambda: tap(app, _("Next")), lambda: current() == "register_code"),
        Step("register-code-typed", enter_code, lambda: len(app.register.code) == 6),
        Step("register-done", lambda: app.register_event("submit_code"), lambda: current() == "register_done"),
        Step("synced", lambda: app.backend.sync.kick(),
             lambda: app.backend.store.counts()["pending"] == 0, timeout=30),
        # a barcode the scanner cannot read: the customer types the number printed under it
        Step("home", app.go_home, lambda: current() == "attract"),
        Step("card-number", lambda: tap(app, _("Type the card number")), lambda: current() == "identify_typed"),
        Step("card-number-typed", lambda: tap_keys(app, card), lambda: app.identify.typed == card),
        Step("card-by-number", lambda: tap(app, _("Find the card")),
             lambda: current() == "card" and app.identify.card["number"] == card),
    ]


def _button(app, text: str):
    widget = _button_where(app, lambda label: label == text)
    if widget is None:
        raise JourneyFailed(f"no button {text!r} on {app.sm.current!r}")
    return widget


def _button_where(app, wanted: Callable[[str], bool]):
    from kivy.uix.button import Button

    for widget in app.sm.current_screen.walk(restrict=True):
        if isinstance(widget, Button) and wanted(widget.text) and not widget.disabled and widget.opacity > 0:
            return widget
    return None


def tap_widget(widget) -> None:
    """A finger on the glass: a touch down and up at the widget's centre, through the window like the
    touch driver's events, so hit-testing, disabled states and covering widgets all play their part."""
    from kivy.tests.common import UnitTestTouch

    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()


def tap(app, text: str) -> None:
    tap_widget(_button(app, text))


def tap_keys(app, keys: str) -> None:
    for key in keys:
        tap(app, {"<": "⌫"}.get(key, key))


def tap_first_row(app) -> None:
    rows = app.sm.current_screen.ids.rows.children
    buttons = [w for w in reversed(rows) if w.__class__.__name__ == "RowButton"]
    if not buttons:
        raise JourneyFailed(f"no rows to pick on {app.sm.current!r}")
    tap_widget(buttons[0])


def cashier_steps(app, *, card: str, phone: str, read_code: Callable[[str], str], pin: str,
                  lang: str = "en") -> list[Step]:
    """At the till, by touch: the cashier signs in; activates a pre-issued card; one receipt with accrual,
    one paid partly with bonuses (frozen preview, the customer's code); the next customer's scan from the
    result screen; a partial return picked from the server's list; a cancel; the card found by the
    customer's phone and the code sent to it; idle sign-out and the Sign out button."""
    from .i18n import _
    from .screens.format import money, phone_as_typed

    current = lambda: app.sm.current  # noqa: E731
    balance = lambda: app.identify.card["balance"] if app.identify.card else None  # noqa: E731
    synced = lambda: app.backend.store.counts()["pending"] == 0  # noqa: E731
    seen: dict[str, int] = {}

    def scan() -> None:
        app.go_home()
        app.scans.put(Scan(card, "demo"))

    def sync_then_card() -> None:
        app.backend.sync.kick()

    def note_balance() -> None:
        seen["balance"] = balance()

    def shows(line: str):
        # the result screen is redrawn with the server's own figures once the sync has its answer
        return lambda: current() == "till_result" and line in app.screen("till_result").body

    def previews(line: str):
        return lambda: current() == "till_amount" and line in app.screen("till_amount").preview_text

    def sign_in() -> None:
        tap_keys(app, pin)
        tap(app, _("Sign in"))

    signed_in = lambda: current() == "attract" and app.cashier_name != ""  # noqa: E731
    return [
        Step("till-signin", lambda: app.switch_language(lang), lambda: current() == "till_signin"),
        Step("till-signin-wrong", lambda: (tap_keys(app, "0000"), tap(app, _("Sign in"))),
             lambda: current() == "till_signin" and app.signin.error == "cashier_pin_wrong"),
        Step("till-signed-in", sign_in, signed_in),
        Step("till-card-not-activated", scan, lambda: current() == "card" and app.identify.card["state"] == "issued"),
        # a step ends where the screen changes: the next one taps once the new screen is laid out
        Step("till-activate", lambda: tap(app, _("Activate this card")), lambda: current() == "register_phone"),
        # no "I accept" for the cashier to tap: the customer's code is the consent (the server records it)
        Step("till-activate-phone", lambda: tap_keys(app, phone),
             lambda: current() == "register_phone" and app.register.at_till and bool(app.register.digits)),
        Step("till-activate-code", lambda: tap(app, _("Send the code")), lambda: current() == "register_code"),
        Step("till-activate-done", lambda: (tap_keys(app, read_code(phone)), tap(app, _("Confirm"))),
             lambda: current() == "register_done"),
        Step("till-activated", lambda: app.backend.sync.kick(), synced, timeout=30),
        Step("till-card-active", scan, lambda: current() == "card" and app.identify.card["state"] == "active"),
        # one receipt: amount, then the whole receipt as the server would book it, frozen
        Step("till-sale", lambda: (note_balance(), tap(app, _("Sale"))), lambda: current() == "till_amount"),
        Step("till-sale-amount", lambda: tap_keys(app, "250"), lambda: app.till.amount == 25000),
        Step("till-sale-preview", lambda: tap(app, _("Next")),
             previews(_("Bonus earned: {amount}").format(amount=money(2500)))),
        Step("till-sale-done", lambda: tap(app, _("Confirm")), lambda: current() == "till_result"),
        Step("till-sale-synced", sync_then_card,
             shows(_("Bonus earned: {amount}").format(amount=money(2500))), timeout=30),
        Step("till-sale-accrued", lambda: (seen.__setitem__("sale", app.till.operation_id), tap(app, _("Done"))),
             lambda: current() == "card" and balance() == seen["balance"] + 2500),
        # a receipt of 100 paid 10 with bonuses: the accrual on the 90 paid in money, the code to the phone
        Step("till-bonus-sale", lambda: (note_balance(), tap(app, _("Sale"))), lambda: current() == "till_amount"),
        Step("till-bonus-amount", lambda: tap_keys(app, "100"), lambda: app.till.amount == 10000),
        Step("till-bonus-preview", lambda: tap(app, _("Next")), lambda: app.till.state.value == "preview"),
        Step("till-bonus-choose", lambda: tap(app, _("Pay with bonuses")), lambda: app.till.state.value == "bonus"),
        Step("till-bonus-typed", lambda: tap_keys(app, "10"), lambda: app.till.bonus_entry.minor == 1000),
        Step("till-bonus-applied", lambda: tap(app, _("Apply")),
             previews(_("To pay: {amount}").format(amount=money(9000)))),
        Step("till-bonus-code", lambda: tap(app, _("Confirm")), lambda: current() == "till_code"),
        Step("till-bonus-done", lambda: (tap_keys(app, read_code(phone)), tap(app, _("Confirm"))),
             lambda: current() == "till_result"),
        Step("till-bonus-synced", sync_then_card,
             shows(_("Bonus earned: {amount}").format(amount=money(900))), timeout=30),
        # the next customer's card on the result screen: no Done needed
        Step("till-next-scan", lambda: app.scans.put(Scan(card, "demo")),
             lambda: current() == "card" and balance() == seen["balance"] - 1000 + 900
             and app.indicators.history[-1:] == ["scan_ok"]),
        # a return at any till: the server's list of the card's sales, newest first (the bonus receipt)
        Step("till-return-pick", lambda: (note_balance(), tap(app, _("Return"))),
             lambda: current() == "till_pick" and bool(app.till.options)),
        Step("till-return-picked", lambda: tap_first_row(app), lambda: current() == "till_amount"),
        Step("till-return-amount", lambda: tap_keys(app, "<<<<<<50"),
             previews(_("Bonuses given back: {amount}").format(amount=money(500)))),
        Step("till-return-code", lambda: tap(app, _("Confirm")), lambda: current() == "till_code"),
        Step("till-returned", lambda: (tap_keys(app, read_code(phone)), tap(app, _("Confirm"))),
             shows(_("Give back in money: {amount}").format(amount=money(4500))), timeout=30),
        Step("till-return-card", lambda: tap(app, _("Done")),
             lambda: current() == "card" and balance() == seen["balance"] + 500 - 450),
        Step("till-sale2", lambda: (note_balance(), tap(app, _("Sale"))), lambda: current() == "till_amount"),
        Step("till-sale2-amount", lambda: tap_keys(app, "40"), lambda: app.till.amount == 4000),
        Step("till-sale2-preview", lambda: tap(app, _("Next")), lambda: app.till.state.value == "preview"),
        Step("till-sale2-done", lambda: tap(app, _("Confirm")), lambda: current() == "till_result"),
        Step("till-sale2-synced", sync_then_card, synced, timeout=30),
        Step("till-sale2-accrued", lambda: tap(app, _("Done")),
             lambda: current() == "card" and balance() == seen["balance"] + 400),
        Step("till-cancel-pick", lambda: tap(app, _("Cancel a sale")),
             lambda: current() == "till_pick" and bool(app.till.options)),
        Step("till-cancel-ask", lambda: tap_first_row(app), lambda: current() == "till_result"),
        Step("till-cancelled", lambda: tap(app, _("Cancel the sale")),
             lambda: app.till is not None and app.till.state.value == "done", timeout=20),
        Step("till-after-cancel", lambda: tap(app, _("Done")),
             lambda: current() == "card" and balance() == seen["balance"]),
        # the receipt of the first sale, its QR scanned: that sale's return, ready, whichever till sold it
        Step("till-receipt-qr", lambda: app.scans.put(Scan("lk://receipt/" + seen["sale"], "demo")),
             lambda: current() == "till_amount" and app.till.sale["operation_id"] == seen["sale"]
             and app.indicators.history[-1:] == ["scan_ok"]),
        # the customer left the card at home: the cashier finds it by the phone they say and the code sent there
        Step("till-home", app.go_home, lambda: current() == "attract"),
        Step("till-find-typed", lambda: tap(app, _("Card number or phone")), lambda: current() == "identify_typed"),
        Step("till-find-phone", lambda: (tap(app, _("Phone number")), tap_keys(app, phone)),
             lambda: app.identify.typing == "phone" and app.identify.typed == phone
             # shown grouped as the shop's country writes it (067 123 4567)
             and app.screen("identify_typed").typed == phone_as_typed(phone, app.backend.country) != phone),
        Step("till-find-code", lambda: tap(app, _("Find the card")), lambda: current() == "identify_code"),
        Step("till-found-by-phone", lambda: (tap_keys(app, read_code(phone)), tap(app, _("Confirm"))),
             lambda: current() == "card" and app.identify.card["number"] == card),
        # the cashier walks away mid-sale: the idle timeout forgets card and amount, and signs the cashier out
        Step("till-idle-typed", lambda: tap(app, _("Sale")), lambda: current() == "till_amount"),
        Step("till-idle-signed-out", lambda: (tap_keys(app, "12"),
                                              setattr(app, "_last_activity", time.monotonic() - 1e4),
                                              setattr(app, "_last_input", time.monotonic() - 1e4)),
             lambda: current() == "till_signin" and app.till is None and app.identify.card is None
             and app.cashier is None),
        Step("till-signed-in-again", sign_in, signed_in),
        Step("till-sign-out", lambda: tap(app, _("Sign out")), lambda: current() == "till_signin"),
        *technician_steps(app),
    ]


def technician_steps(app, new_pin: str = "4711") -> list[Step]:
    """Five taps on the shop's name, the PIN every kiosk ships with, which must be replaced at once; the
    log screen; out, and in again with the new PIN."""
    from .flows.technician import DEFAULT_PIN
    from .i18n import _

    current = lambda: app.sm.current  # noqa: E731

    def tap_shop_name() -> None:
        from kivy.uix.label import Label

        name = next(w for w in app.sm.current_screen.walk(restrict=True)
                    if isinstance(w, Label) and w.text == app.shop_name)
        for _tap in range(5):
            tap_widget(name)

    return [
        Step("tech-pin", tap_shop_name, lambda: current() == "tech_pin"),
        Step("tech-default-pin", lambda: (tap_keys(app, DEFAULT_PIN), tap(app, _("Enter"))),
             lambda: current() == "tech_new_pin" and app.pin_change.forced),
        Step("tech-new-pin", lambda: (tap_keys(app, new_pin), tap(app, _("Enter"))),
             lambda: app.pin_change.repeating),
        Step("tech-new-pin-again", lambda: (tap_keys(app, new_pin), tap(app, _("Enter"))),
             lambda: current() == "tech_menu", timeout=10),
        Step("tech-log", lambda: tap(app, _("Logs")),
             lambda: current() == "tech_log" and app.screen("tech_log").lines != ""),
        Step("tech-back", lambda: tap(app, _("Back")), lambda: current() == "tech_menu"),
        Step("tech-exit", lambda: tap(app, _("Exit")), lambda: current() in ("attract", "till_signin")),
        Step("tech-pin-again", tap_shop_name, lambda: current() == "tech_pin"),
        Step("tech-new-pin-works", lambda: (tap_keys(app, new_pin), tap(app, _("Enter"))),
             lambda: current() == "tech_menu"),
    ]
