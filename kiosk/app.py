"""The Kivy app: wires scanners -> flows -> screens. Screens draw flow state; flows decide.

Network calls run on one worker thread (the UI never freezes); results come back through the Kivy clock.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from drivers.indicators import NullIndicators
from drivers.scanner.base import Scan, ScanQueue
from drivers.scanner.decode import EnrolmentCode, decode
from loyalty_common.phones import mask

from . import fonts, i18n, logbook
from .backend import Backend
from .config import KioskConfig
from .flows.cancel import CancelFlow
from .flows.cashier import shop_config
from .flows.details import DetailsFlow, DetailsState, missing_fields, proof_seconds, reusable_proof
from .flows.find_card import FindCardFlow, FindState
from .flows.identify import IdentifyFlow, IdentifyState
from .flows.idle import IdlePolicy
from .flows.keyboard import Key, KeyboardFlow
from .flows.questionnaire import MAX_TEXT, label
from .flows.register import RegisterFlow, RegisterState
from .flows.return_ import ReturnFlow, open_receipt
from .flows.sale import SaleFlow
from .flows.sales import is_receipt
from .flows.signin import CashierSession, SignInFlow
from .flows.technician import ROLES, PinChange, PinLock, TechnicianFlow
from .i18n import _, ngettext
from .messages import message, till_sync_hint, waiting_to_sync
from .screens import format
from .screens.attract import AttractScreen
from .screens.card import CardScreen
from .screens.details import DetailsCodeScreen, DetailsDoneScreen, DetailsQuestionsScreen
from .screens.find import FindCodeScreen, FindPhoneScreen
from .screens.identify import IdentifyTypedScreen
from .screens.keyboard import KeyboardScreen
from .screens.languages import LanguagePicker
from .screens.register import (
    RegisterCodeScreen,
    RegisterDoneScreen,
    RegisterPhoneScreen,
    RegisterQuestionsScreen,
    RegisterTermsScreen,
)
from .screens.scale import ui_scale
from .screens.technician import (
    TechEnrolScreen,
    TechFailedScreen,
    TechLogScreen,
    TechMenuScreen,
    TechNewPinScreen,
    TechPinScreen,
    TechResetScreen,
    TechSelfTestScreen,
)
from .screens.till import (
    IdentifyCodeScreen,
    TillAmountScreen,
    TillCodeScreen,
    TillPickScreen,
    TillResultScreen,
    TillSignInScreen,
)

log = logging.getLogger(__name__)
KV_DIR = Path(__file__).parent / "screens"
KV_FILES = ("theme.kv", "attract.kv", "card.kv", "identify.kv", "register.kv", "find.kv", "till.kv",
            "technician.kv", "keyboard.kv", "details.kv")
RESEND_SECONDS = 30
BUSY_DELAY = 0.2  # s before "please wait" covers the screen
# how often a screen showing an operation just saved looks for the server's answer (a SQLite read by id)
SETTLE_POLL = 0.25
SCREENS = {  # name (as in the .kv rules) -> class
    "attract": AttractScreen, "card": CardScreen, "register_phone": RegisterPhoneScreen,
    "register_questions": RegisterQuestionsScreen, "register_code": RegisterCodeScreen,
    "register_done": RegisterDoneScreen, "till_amount": TillAmountScreen, "till_code": TillCodeScreen,
    "till_pick": TillPickScreen, "till_result": TillResultScreen, "tech_pin": TechPinScreen,
    "tech_menu": TechMenuScreen, "tech_enrol": TechEnrolScreen, "tech_failed": TechFailedScreen,
    "tech_selftest": TechSelfTestScreen, "tech_reset": TechResetScreen, "tech_log": TechLogScreen,
    "tech_new_pin": TechNewPinScreen, "identify_typed": IdentifyTypedScreen, "find_phone": FindPhoneScreen,
    "find_code": FindCodeScreen, "till_signin": TillSignInScreen, "identify_code": IdentifyCodeScreen,
    "keyboard": KeyboardScreen, "register_terms": RegisterTermsScreen,
    "details_questions": DetailsQuestionsScreen, "details_code": DetailsCodeScreen, "details_done": DetailsDoneScreen,
}
TILL_FLOWS = {"sale": SaleFlow, "return": ReturnFlow, "cancel": CancelFlow}
# till events that ask the server: they run off the UI thread behind "please wait"
TILL_ASKS = ("preview", "confirm", "submit_code", "resend", "apply_bonus", "no_bonus", "submit_receipt")
# Taps on the shop's name that open the technician's PIN screen, and the time they must fall within.
TECH_TAPS, TECH_TAP_WINDOW = 5, 3.0


class BusyOverlay(FloatLayout):
    pass


class IdleBanner(FloatLayout):
    """The countdown before an abandoned screen goes back to the start; any touch keeps the screen."""

    covers_screen = True  # drawn over the screen on purpose: the gallery does not count it as an overlap

    text = StringProperty("")


class KioskApp(App):
    lang = StringProperty("en")
    shop_name = StringProperty("")
    sync_status = StringProperty("")
    till_sync_hint = StringProperty("")  # the cashier's "n waiting · n failed" on the card screen
    cashier_name = StringProperty("")  # who works the till, on its screens ("" when nobody is signed in)
    symbol_font = StringProperty("data/fonts/DejaVuSans.ttf")  # Roboto has no ⌫
    busy = BooleanProperty(False)
    # Sizes in the .kv files are for a 7" 800x480 panel; bigger panels scale them up, so a 1920x1080 screen
    # is not a small island of buttons.
    scale = NumericProperty(1.0)

    def __init__(self, config: KioskConfig, backend: Backend, scans: ScanQueue, *,
                 indicators: NullIndicators | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kiosk_config = config
        self.backend = backend
        self.scans = scans
        # Lights and buzzer answer a scan before the screen does, and show offline/busy at a glance.
        self.indicators = indicators or NullIndicators()
        self._steady_light = "ready"
        self.identify = IdentifyFlow(backend, config.card_rules)
        self.register: RegisterFlow | None = None
        self.find: FindCardFlow | None = None  # "Find my card" at the entrance
        self.details: DetailsFlow | None = None  # answers added from the card screen
        self.till = None  # the cashier's current flow (sale, return, cancel)
        self.cashier: CashierSession | None = None  # signed in on this till
        self.signin: SignInFlow | None = None
        self.pin: PinLock | None = None
        self.tech: TechnicianFlow | None = None
        self.pin_change: PinChange | None = None
        self.keyboard: KeyboardFlow | None = None  # the on-screen keyboard, typing for `_keyboard_return`
        self._keyboard_return = "attract"
        self._taps: list[float] = []
        self._stopping = False
        self._code_sent_at = 0.0
        self._last_activity = time.monotonic()
        # a finger on the glass or a scan, nothing else: going home resets `_last_activity`, not this
        self._last_input = self._last_activity
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow")
        # made in build(), once their kv rules are loaded
        self._overlay = self._idle_banner = self._picker = None
        self.idle = IdlePolicy(config.idle_timeout, config.code_idle_timeout)
        self.role = config.role
        self.languages = [lang for lang in config.languages if lang in i18n.LANGUAGES] or [config.language]
        i18n.warn_missing_catalogues([config.language, *self.languages])
        self.title = _("Loyalty kiosk")

    # set-up ---------------------------------------------------------------------------------------
    def build(self):
        logbook.install()  # from now on the technician's log screen has the lines
        # Kivy lets every logger through at DEBUG: urllib3 would write a line per sync request to the journal
        logging.getLogger("urllib3").setLevel(logging.INFO)
        Window.clearcolor = (0.06, 0.14, 0.24, 1)
        fonts.register_default()
        for name in KV_FILES:
            Builder.load_file(str(KV_DIR / name))
        # a widget takes its kv rule when it is made: made before the rules were loaded, these stayed empty
        self._overlay, self._idle_banner, self._picker = BusyOverlay(), IdleBanner(), LanguagePicker()
        self.switch_language(self.kiosk_config.language)
        self.shop_name = self.backend.store.get_setting("shop_name", "")
        format.use_shop(shop_config(self.backend), self.backend.country)
        # no transition: a fade costs frames (FBOs) between the scan and the balance, the number that matters
        self.sm = ScreenManager(transition=NoTransition())
        # the two screens every customer sees are built now; the others on first use (start-up time, memory)
        self.screen("card")
        self.screen("attract").render(self)
        self.sm.current = "attract"
        if self.needs_signin():
            self.go_home()
        Window.bind(on_touch_down=self._touched, size=self._resized)
        self._resized(Window, Window.size)
        threading.Thread(target=self._listen_for_scans, name="scans", daemon=True).start()
        Clock.schedule_interval(self._tick, 1)
        Clock.schedule_interval(self._settle, SETTLE_POLL)
        return self.sm

    def screen(self, name: str):
        if not self.sm.has_screen(name):
            # the name given, not only the rule's: a subclass shares its base's rule (details_questions)
            self.sm.add_widget(SCREENS[name](name=name))
        return self.sm.get_screen(name)

    def _resized(self, _window, size) -> None:
        self.scale = ui_scale(*size, self.kiosk_config.panel_inches)

    def set_panel(self, inches: float | None) -> None:
        """Another panel diagonal (the gallery draws every panel in one window)."""
        self.kiosk_config.panel_inches = inches
        self._resized(Window, Window.size)

    def mask(self, phone: str | None) -> str:
        return mask(phone)

    # plumbing -------------------------------------------------------------------------------------
    def run_async(self, work: Callable[[], object], then: Callable[[object], None]) -> None:
        """Runs `work` off the UI thread with the busy overlay up, then `then(result)` on the UI thread."""
        self._set_busy(True)

        def done(future) -> None:
            def finish(_dt) -> None:
                self._set_busy(False)
                then(future.result())
            Clock.schedule_once(finish)

        self._worker.submit(work).add_done_callback(done)

    def _set_busy(self, busy: bool) -> None:
        # The overlay appears only when the wait is long enough to notice: a quick answer must not flash
        # it (and pay for drawing it) on the way to the result.
        if busy and not self.busy:
            Clock.schedule_once(self._show_overlay, BUSY_DELAY)
        elif not busy:
            Clock.unschedule(self._show_overlay)
            if self._overlay.parent:
                self._overlay.parent.remove_widget(self._overlay)
        self.busy = busy

    def _show_overlay(self, _dt) -> None:
        if self.busy and self.root_window and not self._overlay.parent:
            self.root_window.add_widget(self._overlay)

    def _touched(self, *_args) -> None:
        self._last_activity = self._last_input = time.monotonic()
        self._show_countdown(None)

    def _show_countdown(self, seconds: int | None) -> None:
        banner = self._idle_banner
        if banner is None:
            return
        if seconds is None:
            if banner.parent:
                banner.parent.remove_widget(banner)
            return
        banner.text = ngettext("Going back to the start in {n} second. Touch the screen to stay.",
                               "Going back to the start in {n} seconds. Touch the screen to stay.",
                               seconds).format(n=seconds)
        if self.root_window and not banner.parent:
            self.root_window.add_widget(banner)

    def _listen_for_scans(self) -> None:
        """Waits on the drivers' queue and hands each scan to the UI thread at once (a polling clock would
        add up to a frame to every scan)."""
        while not self._stopping:
            scan = self.scans.get(timeout=0.25)
            if scan is not None:
                Clock.schedule_once(lambda _dt, scan=scan: self._deliver_scan(scan))

    def _deliver_scan(self, scan: Scan) -> None:
        if not self.busy:
            self.on_scan(scan)

    def _tick(self, _dt) -> None:
        idle = time.monotonic() - self._last_activity
        if not self.busy and self.idle.left(self.sm.current, idle) <= 0:
            self.go_home()  # wipes what the last customer typed
        self._show_countdown(None if self.busy else self.idle.countdown(self.sm.current, idle))
        untouched = time.monotonic() - self._last_input
        if self.cashier is not None and not self.busy and (untouched > self.kiosk_config.cashier_idle_timeout
                                                            or self.cashier.expired()):
            self.sign_out()  # a till left alone is nobody's: the next sale must not go on this cashier's name
        if self.sm.current in ("register_code", "till_code", "find_code", "identify_code", "details_code"):
            self.screen(self.sm.current).update_resend(self)
        if self.sm.current == "tech_pin" and self.pin is not None and self.pin.locked_for():
            self.show("tech_pin")  # the lockout countdown
        sync = self.backend.sync
        if sync is not None:
            state = sync.state
            parts = [_("Offline") if not state.online else _("Online")]
            if state.pending:
                parts.append(waiting_to_sync(state.pending))
            self.sync_status = " · ".join(parts)
            self.till_sync_hint = till_sync_hint(state.pending, state.failed) if self.role == "cashier" else ""
            steady = "offline" if not state.online else "ready"
            if steady != self._steady_light:
                self._steady_light = steady
                self.indicators.show(steady)

    def _settle(self, _dt) -> None:
        """Redraws the screen of an operation just saved once the sync has the server's answer to it."""
        flow = {"till_result": self.till, "register_done": self.register}.get(self.sm.current)
        if flow is not None and hasattr(flow, "settle") and flow.settle():
            self.show(self.sm.current)

    def show(self, name: str) -> None:
        screen = self.screen(name)
        screen.render(self)
        self.sm.current = name

    # events from screens and scanners ------------------------------------------------------------
    def switch_language(self, lang: str) -> None:
        i18n.set_language(lang)
        self.lang = lang
        if getattr(self, "sm", None) is not None and self.sm.current != "attract":
            self.show(self.sm.current)

    def choose_language(self) -> None:
        """The language button of a customer screen: the picker over the screen."""
        self._last_activity = time.monotonic()
        if self._picker is not None and self.root_window and not self._picker.parent:
            self._picker.show(self)
            self.root_window.add_widget(self._picker)

    def language_chosen(self, lang: str | None) -> None:
        """A language from the picker (None: closed without choosing)."""
        self._last_activity = time.monotonic()
        if self._picker is not None and self._picker.parent:
            self._picker.parent.remove_widget(self._picker)
        if lang is not None and lang != self.lang:
            self.switch_language(lang)

    def on_scan(self, scan: Scan) -> None:
        self._last_activity = self._last_input = time.monotonic()
        if self.sm.current == "tech_selftest" and self.tech is not None:
            self.tech.self_test.scanned(scan.payload)
            self.show("tech_selftest")
            return
        current = self.sm.current
        enrolment = isinstance(decode(scan.payload), EnrolmentCode)  # the technician's, signed in or not
        if current == "till_signin" and self.signin is not None and not enrolment:  # a staff badge
            self.run_async(lambda: self.signin.badge(scan.payload), self._signed_in)
            return
        till = self.till
        if till is not None and till.state.value in ("pick", "receipt"):  # a receipt's QR for a return or cancel
            self.run_async(lambda: till.submit_receipt(scan.payload), self._receipt_scanned)
            return
        finished = current == "till_result" and till is not None and till.state.value in ("done", "refused", "queued")
        if is_receipt(scan.payload) and self.cashier is not None and (finished or current in ("attract", "card")):
            # a receipt's QR at the till: its sale, ready to return, from whichever till sold it
            self.run_async(lambda: open_receipt(self.backend, self.identify, scan.payload,
                                                cashier=self.cashier.cashier_id), self._receipt_opened)
            return
        if finished:
            self.till = None  # the next customer's card: no need to tap Done first
        elif current.startswith(("register", "till", "tech", "identify_code", "keyboard", "details")):
            if self.role == "cashier":
                self.indicators.error()  # not taken: the cashier hears that it was not
            return  # a card scanned mid-operation must not throw away what was typed
        if self.needs_signin() and not enrolment:
            self.indicators.error()
            return
        self.run_async(lambda: self.identify.on_scan(scan), self._identified)

    def _receipt_opened(self, opened: tuple) -> None:
        flow, error = opened
        if flow is None:
            self.indicators.error()
            self.till = None
            attract = self.screen("attract")
            attract.notice = message(error)
            self.sm.current = "attract"
            Clock.schedule_once(lambda _dt: setattr(attract, "notice", ""), 6)
            return
        self.indicators.scan_ok()
        self.till = flow
        self.show(self.till_screen())

    def _receipt_scanned(self, _state) -> None:
        if self.till is not None:
            if self.till.error:
                self.indicators.error()
            else:
                self.indicators.scan_ok()
            self.show(self.till_screen())

    def _identified(self, state: IdentifyState) -> None:
        if state in (IdentifyState.CARD, IdentifyState.ENROLMENT):
            self.indicators.scan_ok()
        else:  # not ours, unknown, or no server to ask: every scan taken is answered
            self.indicators.error()
        if state is IdentifyState.CARD:
            self.show("card")
            return
        if state is IdentifyState.ENROLMENT:
            self.open_technician()
            return
        attract = self.screen("attract")
        code = {IdentifyState.NOT_OURS: "not_ours", IdentifyState.NOT_FOUND: "card_not_found",
                IdentifyState.OFFLINE: "server_unreachable"}.get(state, self.identify.error)
        attract.notice = message(code) if state is not IdentifyState.ENROLMENT else ""
        self.sm.current = "attract"
        Clock.schedule_once(lambda _dt: setattr(attract, "notice", ""), 6)

    def start_typing(self, by: str = "card") -> None:
        """The numpad instead of the scanner: the card number, or at the till also the phone number."""
        self._last_activity = time.monotonic()
        if self.sm.current == "identify_typed" and self.identify.typing == by:
            return  # the mode already chosen: keep what was typed
        try:
            self.identify.start_typing(by, role=self.role)
        except PermissionError:
            return
        self.show("identify_typed")

    def identify_event(self, name: str) -> None:
        self._last_activity = time.monotonic()
        if name == "submit" and self.identify.typing:
            self.run_async(self.identify.submit_typed, self._typed_identified)
        elif name in ("submit_code", "resend") and self.identify.code is not None:
            self.run_async(getattr(self.identify, name), lambda state: self._typed_identified(state, name == "resend"))
        elif name == "back" and self.sm.current == "identify_code":
            self.identify.back_to_phone()
            self.show("identify_typed")

    def _typed_identified(self, state: IdentifyState, code_sent: bool = True) -> None:
        if state is IdentifyState.CODE:
            if code_sent and self.identify.error is None:
                self._code_sent_at = time.monotonic()
            self.show("identify_code")
            return
        self.show("card" if state is IdentifyState.CARD else "identify_typed")

    def start_registration(self, card_number: str | None = None, *, digits: str = "",
                           notice: str | None = None) -> None:
        self._last_activity = time.monotonic()
        self.register = RegisterFlow(self.backend, card_number=card_number,
                                     questionnaire=shop_config(self.backend).get("questionnaire"),
                                     at_till=self.role == "cashier")
        self.register.digits, self.register.error = digits, notice
        self.register.questions.today = format.shop_today  # a birthday is checked against the shop's date
        self.show("register_phone")

    # "Find my card" -------------------------------------------------------------------------------
    def start_find_card(self) -> None:
        self._last_activity = time.monotonic()
        self.find = FindCardFlow(self.backend)
        self.show("find_phone")

    def find_event(self, name: str) -> None:
        self._last_activity = time.monotonic()
        flow = self.find
        if flow is None:
            return
        if name == "back":
            flow.back()
            self.show("find_phone")
            return

        def after(_state) -> None:
            if name in ("submit_phone", "resend") and flow.state is FindState.CODE and flow.error is None:
                self._code_sent_at = time.monotonic()
            if flow.state is FindState.FOUND:
                self.find = None
                self.identify.show_own(flow.view)
                self.show("card")
            elif flow.state is FindState.NO_CARD:
                # the phone is theirs and has no card: joining is the next step, the number already typed
                self.find = None
                self.start_registration(digits=flow.digits, notice="no_card_yet")
            else:
                self.show("find_code" if flow.state is FindState.CODE else "find_phone")

        self.run_async(getattr(flow, name), after)

    def numpad(self, key: str) -> None:
        self._last_activity = time.monotonic()
        current = self.sm.current
        target = (self.signin if current == "till_signin" else self.till if current.startswith("till")
                  else self.pin if current == "tech_pin"
                  else self.pin_change if current == "tech_new_pin"
                  else self.register if current.startswith("register")
                  else self.find if current.startswith("find")
                  else self.details if current.startswith("details")
                  else self.identify if current in ("identify_typed", "identify_code") else None)
        if target is not None:
            target.press(key)
            self.show(current)

    # the on-screen keyboard ------------------------------------------------------------------------
    def open_keyboard(self, prompt: str, text: str, done: Callable[[str], None], *, start: str | None = None,
                      max_length: int = 500) -> None:
        """A full screen of keys for one line of text; `done(text)` gets it, then the screen that asked is back.
        The alphabets: the customer's language first, then the shop's others, Latin, digits."""
        self._last_activity = time.monotonic()
        self._keyboard_return = self.sm.current
        self.keyboard = KeyboardFlow(prompt, [self.lang, *self.languages], done, text=text, start=start,
                                     max_length=max_length)
        self.show("keyboard")

    def keyboard_for(self, field, prompt: str, *, start: str | None = "en") -> None:
        """A text field tapped (the technician's): the keyboard types into it. A USB keyboard still works,
        on the keyboard screen's own field."""
        if self.sm.current == "keyboard":
            return
        field.focus = False
        self.open_keyboard(prompt, field.text, lambda text: setattr(field, "text", text), start=start,
                           max_length=300)

    def keyboard_event(self, key: Key | str) -> None:
        self._last_activity = time.monotonic()
        flow = self.keyboard
        if flow is None:
            return
        if flow.press(Key(key) if isinstance(key, str) else key):
            self.keyboard = None
            self.screen("keyboard").wipe()
            self.show(self._keyboard_return)
        else:
            self.show("keyboard")

    def keyboard_typed(self, text: str) -> None:
        if self.keyboard is not None and text != self.keyboard.text:
            self._last_activity = time.monotonic()
            self.keyboard.type_text(text)

    def _asking(self):
        """The flow whose questions are on screen: the details flow's (card screen) or the registration's."""
        return self.details if self.sm.current.startswith("details") else self.register

    def type_answer(self) -> None:
        """A text question of the questionnaire: its answer on the keyboard screen."""
        flow = self._asking()
        questions = flow.questions if flow is not None else None
        if questions is None or questions.field is None:
            return
        self.open_keyboard(label(questions.field, self.lang), questions.typed, questions.type_text,
                           max_length=MAX_TEXT)

    def register_resend_in(self) -> float:
        return max(0.0, RESEND_SECONDS - (time.monotonic() - self._code_sent_at))

    code_resend_in = register_resend_in

    def register_screen(self) -> str:
        return {RegisterState.PHONE: "register_phone", RegisterState.QUESTIONS: "register_questions",
                RegisterState.CODE: "register_code", RegisterState.DONE: "register_done",
                RegisterState.TERMS: "register_terms"}[self.register.state]

    def question_event(self, name: str, *args) -> None:
        """Questionnaire steps are local; the last one asks the server for the SMS code."""
        self._last_activity = time.monotonic()
        flow = self._asking()
        if flow is None:
            return
        details = flow is self.details
        if name == "previous" and flow.questions.index == 0:
            if details:  # back where the customer came from
                self.details = None
                self.show("card")
                return
            flow.state = RegisterState.PHONE
        else:
            getattr(flow.questions, name)(*args)
        if flow.questions.done:
            (self.details_event if details else self.register_event)("finish_questions")
            return
        self.show("details_questions" if details else self.register_screen())

    # answers added from the card screen ------------------------------------------------------------
    def start_details(self) -> None:
        """The card screen's "Add your details": the shop's questions this customer has not answered."""
        self._last_activity = time.monotonic()
        view = self.identify.view
        fields = missing_fields(shop_config(self.backend).get("questionnaire"), view.card if view else None)
        if not fields:
            return
        # after Find my card the phone is proven already: its token, unspent, spares a second SMS
        lifetime = proof_seconds(shop_config(self.backend))  # the shop's token_ttl, less the answers' way
        proof = reusable_proof(view, lifetime=lifetime)
        self.details = DetailsFlow(self.backend, view.card["number"], fields, proof=proof,
                                   proof_until=view.fetched_at + lifetime)
        self.details.questions.today = format.shop_today  # a birthday is checked against the shop's date
        self.show("details_questions")

    def details_event(self, name: str) -> None:
        self._last_activity = time.monotonic()
        flow = self.details
        if flow is None:
            return
        if name == "to_card":
            self.details = None
            self.show("card")
            return
        if name == "back_to_questions":
            flow.back_to_questions()
            self.show("details_questions")
            return

        def after(_state) -> None:
            if name in ("finish_questions", "resend") and flow.state is DetailsState.CODE and flow.error is None:
                self._code_sent_at = time.monotonic()
            if flow.state is DetailsState.DONE and self.identify.view is not None:
                # the card screen behind says what is answered now (the server's own look-up will too)
                card = self.identify.view.card
                card["answered"] = sorted(set(card.get("answered") or []) | set(flow.questions.answers))
                if flow.used_proof:  # spent: adding more later asks for a code
                    self.identify.view = dataclasses.replace(self.identify.view, proof=None)
            if flow.state is DetailsState.QUESTIONS and flow.error is not None:
                # no code could be sent (or nothing was answered): the last question, with the reason
                flow.back_to_questions()
                flow.error, error = None, flow.error
                flow.questions.error = error
            self.show({DetailsState.QUESTIONS: "details_questions", DetailsState.CODE: "details_code",
                       DetailsState.DONE: "details_done"}[flow.state])

        self.run_async(getattr(flow, name), after)

    # the cashier ----------------------------------------------------------------------------------
    def needs_signin(self) -> bool:
        return self.role == "cashier" and self.cashier is None

    def signin_event(self, name: str) -> None:
        self._last_activity = time.monotonic()
        if name == "submit" and self.signin is not None:
            self.run_async(self.signin.submit, self._signed_in)

    def _signed_in(self, session: CashierSession | None) -> None:
        if session is None:
            if self.signin is not None and self.sm.current == "till_signin":
                self.indicators.error()
                self.show("till_signin")
            return
        self.indicators.scan_ok()
        self.cashier, self.cashier_name = session, session.name
        self.backend.cashier = session.cashier_id
        log.info("cashier %s signed in", session.cashier_id)
        self.go_home()

    def sign_out(self) -> None:
        if self.cashier is not None:
            log.info("cashier %s signed out", self.cashier.cashier_id)
        self.cashier, self.cashier_name = None, ""
        self.backend.cashier = None
        self.go_home()

    # the till -------------------------------------------------------------------------------------
    def start_till(self, kind: str) -> None:
        self._last_activity = time.monotonic()
        card = self.identify.card
        if card is None or self.role != "cashier" or self.cashier is None:
            return
        flow = self.till = TILL_FLOWS[kind](self.backend, card, cashier=self.cashier.cashier_id)
        if kind in ("return", "cancel"):  # the card's sales from every till: the server's list
            self.run_async(flow.load, lambda _loaded: self.show(self.till_screen()) if self.till is flow else None)
            return
        self.show(self.till_screen())

    def till_screen(self) -> str:
        state = self.till.state.value
        return {"amount": "till_amount", "preview": "till_amount", "bonus": "till_amount", "receipt": "till_amount",
                "code": "till_code", "pick": "till_pick"}.get(state, "till_result")

    def till_event(self, name: str, *args) -> None:
        self._last_activity = time.monotonic()
        flow = self.till
        if flow is None:
            return
        if name == "back" and flow.state.value in ("amount", "pick"):
            if isinstance(flow, ReturnFlow) and flow.state.value == "amount":
                flow.back()
            else:
                self.back_to_card()
                return
        elif name in TILL_ASKS:
            def after(_result) -> None:
                if name in ("resend",) or (flow.state.value == "code" and name == "confirm"):
                    self._code_sent_at = time.monotonic()
                self.show(self.till_screen())
            self.run_async(getattr(flow, name), after)
            return
        else:
            getattr(flow, name)(*args)
        self.show(self.till_screen())

    def back_to_card(self) -> None:
        """After an operation the card is looked up again, so the balance shown is the server's."""
        self.till = None
        card = self.identify.card
        if card is None:
            self.go_home()
            return
        self.run_async(lambda: self.identify.lookup(card["number"]), self._identified)

    # the technician -------------------------------------------------------------------------------
    def tap_shop_name(self) -> None:
        now = time.monotonic()
        self._taps = [t for t in self._taps if now - t < TECH_TAP_WINDOW] + [now]
        if len(self._taps) >= TECH_TAPS:
            self._taps = []
            self.open_technician()

    def open_technician(self) -> None:
        self._last_activity = time.monotonic()
        self.pin = PinLock(self.backend.store)
        self.show("tech_pin")

    def tech_show(self, name: str) -> None:
        self._last_activity = time.monotonic()
        if self.tech is not None:
            self.tech.error = None
            self.show(name)

    def tech_event(self, name: str, *args) -> None:
        self._last_activity = time.monotonic()
        if name == "submit_pin":
            if self.pin is not None and self.pin.submit():
                self.tech = TechnicianFlow(self.backend, state_dir=self.kiosk_config.state_dir, role=self.role,
                                           config_path=self.kiosk_config.source)
                if self.pin.is_default():  # everyone can read the default PIN in the docs: replace it first
                    self.pin_change = PinChange(self.pin, forced=True)
                    self.show("tech_new_pin")
                    return
                enrolment = self.identify.enrolment
                if enrolment is not None:  # the enrolment QR that brought us here
                    self.tech_event("enrol", enrolment.server_url, enrolment.token)
                    return
                self.show("tech_menu")
            else:
                self.show("tech_pin")
            return
        flow = self.tech
        if flow is None:
            return
        if name == "enrol":
            self.run_async(lambda: flow.enrol(*args), self._enrolled)
            return
        if name == "change_pin":
            self.pin_change = PinChange(PinLock(self.backend.store))
            self.show("tech_new_pin")
            return
        if name == "submit_new_pin":
            changed = self.pin_change is not None and self.pin_change.submit()
            self.show("tech_new_pin")
            if changed:  # "PIN changed" stays up a moment, then the menu
                Clock.schedule_once(self._pin_changed, 1.5)
            return
        if name == "toggle_role":
            flow.choose_role(ROLES[(ROLES.index(flow.role) + 1) % len(ROLES)])
            self.role = flow.role
        elif name == "confirm_item":
            # The technician's press plays the pattern on the real lights / buzzer, then counts as seen.
            self.indicators.show({"leds": "lamp_test", "buzzer": "beep_test"}[args[0]])
            flow.self_test.confirm(*args)
        elif name == "touch":
            flow.self_test.touch(*args)
        elif name == "retry":
            flow.retry(*args)
        elif name == "factory_reset":
            flow.arm_reset()
            if flow.factory_reset():
                self.stop()  # systemd starts us again, unenrolled
                return
        self.show(self.sm.current)

    def _pin_changed(self, _dt) -> None:
        if self.sm.current == "tech_new_pin":
            self.tech_show("tech_menu")

    def _enrolled(self, ok: bool) -> None:
        if ok:
            self.shop_name = self.backend.store.get_setting("shop_name", "")
            format.use_shop(shop_config(self.backend), self.backend.country)
            self.identify.reset()
        self.show("tech_enrol")

    def register_event(self, name: str) -> None:
        self._last_activity = time.monotonic()
        flow = self.register
        if flow is None:
            return
        if name in ("toggle_consent", "toggle_marketing", "read_terms", "accept_terms", "decline_terms"):
            getattr(flow, name)()
            self.show(self.register_screen())
            return

        def after(state) -> None:
            if name in ("submit_phone", "resend", "finish_questions") and flow.state is RegisterState.CODE \
                    and flow.error is None:
                self._code_sent_at = time.monotonic()
            if flow.state is RegisterState.OWN_CARD:  # the phone has a card: that card, not a second one
                self.register = None
                self.identify.show_own(flow.own_view, notice=flow.error)
                self.show("card")
                return
            self.show(self.register_screen())

        self.run_async(getattr(flow, name), after)

    def go_home(self) -> None:
        self.register = self.till = self.pin = self.tech = self.pin_change = self.find = self.signin = None
        self.details = None
        self.keyboard = None
        self._last_activity = time.monotonic()
        self._show_countdown(None)
        self.language_chosen(None)
        self.identify.reset()
        for screen in self.sm.screens:
            screen.wipe()  # typed text lives in text fields too, not only in flows
        if self.needs_signin():  # a till's home is its sign-in while nobody works it
            self.signin = SignInFlow(self.backend)
            self.show("till_signin")
            return
        attract = self.screen("attract")
        attract.notice = ""
        attract.render(self)  # the technician may have changed the role
        self.sm.current = "attract"
        # the next customer starts in the shop's language, not in the one the last customer chose
        if self.lang != self.kiosk_config.language:
            self.switch_language(self.kiosk_config.language)

    def on_stop(self) -> None:
        self._stopping = True
        self._worker.shutdown(wait=False, cancel_futures=True)
