"""The Kivy app: wires scanners -> flows -> screens. Screens draw flow state; flows decide.

Network calls run on one worker thread (the UI never freezes); results come back through the Kivy clock.
"""

from __future__ import annotations

import logging
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
from kivy.uix.screenmanager import FadeTransition, ScreenManager

from drivers.scanner.base import Scan, ScanQueue
from store_server.phones import mask

from . import fonts, i18n
from .backend import Backend
from .config import KioskConfig
from .flows.identify import IdentifyFlow, IdentifyState
from .flows.register import RegisterFlow, RegisterState
from .i18n import _
from .messages import message
from .screens.attract import AttractScreen
from .screens.card import CardScreen
from .screens.register import RegisterCodeScreen, RegisterDoneScreen, RegisterPhoneScreen

log = logging.getLogger(__name__)
KV_DIR = Path(__file__).parent / "screens"
KV_FILES = ("theme.kv", "attract.kv", "card.kv", "register.kv")
RESEND_SECONDS = 30


class BusyOverlay(FloatLayout):
    pass


class KioskApp(App):
    lang = StringProperty("en")
    shop_name = StringProperty("")
    sync_status = StringProperty("")
    symbol_font = StringProperty("data/fonts/DejaVuSans.ttf")  # Roboto has no ⌫
    busy = BooleanProperty(False)
    # Sizes in the .kv files are for a 7" 800x480 panel; bigger panels scale them up, so a 1920x1080 screen
    # is not a small island of buttons.
    scale = NumericProperty(1.0)

    def __init__(self, config: KioskConfig, backend: Backend, scans: ScanQueue, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kiosk_config = config
        self.backend = backend
        self.scans = scans
        self.identify = IdentifyFlow(backend)
        self.register: RegisterFlow | None = None
        self._code_sent_at = 0.0
        self._last_activity = time.monotonic()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow")
        self._overlay = BusyOverlay()
        self.role = config.role
        self.languages = [lang for lang in config.languages if lang in i18n.LANGUAGES] or [config.language]
        self.title = _("Loyalty kiosk")

    # set-up ---------------------------------------------------------------------------------------
    def build(self):
        Window.clearcolor = (0.06, 0.14, 0.24, 1)
        fonts.register_default()
        for name in KV_FILES:
            Builder.load_file(str(KV_DIR / name))
        self.switch_language(self.kiosk_config.language)
        self.shop_name = self.backend.store.get_setting("shop_name", "")
        self.sm = ScreenManager(transition=FadeTransition(duration=0.12))
        for screen in (AttractScreen(), CardScreen(), RegisterPhoneScreen(), RegisterCodeScreen(),
                       RegisterDoneScreen()):
            self.sm.add_widget(screen)
        self.sm.get_screen("attract").render(self)
        Window.bind(on_touch_down=self._touched, size=self._resized)
        self._resized(Window, Window.size)
        Clock.schedule_interval(self._poll_scans, 1 / 30)
        Clock.schedule_interval(self._tick, 1)
        return self.sm

    def _resized(self, _window, size) -> None:
        width, height = size
        self.scale = max(1.0, min(width / 800, height / 480) if width >= height else min(width / 480, height / 800))

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
        if busy and not self.busy:
            self.root_window.add_widget(self._overlay) if self.root_window else None
        elif not busy and self.busy and self._overlay.parent:
            self._overlay.parent.remove_widget(self._overlay)
        self.busy = busy

    def _touched(self, *_args) -> None:
        self._last_activity = time.monotonic()

    def _poll_scans(self, _dt) -> None:
        scan = self.scans.get()
        if scan is not None and not self.busy:
            self.on_scan(scan)

    def _tick(self, _dt) -> None:
        idle = time.monotonic() - self._last_activity
        if self.sm.current != "attract" and not self.busy and idle > self.kiosk_config.idle_timeout:
            self.go_home()  # wipes what the last customer typed
        if self.sm.current == "register_code":
            self.sm.get_screen("register_code").update_resend(self)
        sync = self.backend.sync
        if sync is not None:
            state = sync.state
            parts = [_("Offline") if not state.online else _("Online")]
            if state.pending:
                parts.append(_("{n} waiting to sync").format(n=state.pending))
            self.sync_status = " · ".join(parts)

    def show(self, name: str) -> None:
        screen = self.sm.get_screen(name)
        screen.render(self)
        self.sm.current = name

    # events from screens and scanners ------------------------------------------------------------
    def switch_language(self, lang: str) -> None:
        i18n.set_language(lang)
        self.lang = lang
        if getattr(self, "sm", None) is not None and self.sm.current != "attract":
            self.show(self.sm.current)

    def on_scan(self, scan: Scan) -> None:
        self._last_activity = time.monotonic()
        if self.sm.current.startswith("register"):
            return  # a card scanned mid-registration must not throw away what the customer typed
        self.run_async(lambda: self.identify.on_scan(scan), self._identified)

    def _identified(self, state: IdentifyState) -> None:
        if state is IdentifyState.CARD:
            self.show("card")
            return
        attract = self.sm.get_screen("attract")
        code = {IdentifyState.NOT_OURS: "not_ours", IdentifyState.NOT_FOUND: "card_not_found",
                IdentifyState.OFFLINE: "server_unreachable"}.get(state, self.identify.error)
        attract.notice = message(code) if state is not IdentifyState.ENROLMENT else ""
        self.sm.current = "attract"
        Clock.schedule_once(lambda _dt: setattr(attract, "notice", ""), 6)

    def start_registration(self, card_number: str | None = None) -> None:
        self._last_activity = time.monotonic()
        self.register = RegisterFlow(self.backend, card_number=card_number)
        self.show("register_phone")

    def numpad(self, key: str) -> None:
        self._last_activity = time.monotonic()
        if self.register is not None:
            self.register.press(key)
            self.show(self.sm.current)

    def register_resend_in(self) -> float:
        return max(0.0, RESEND_SECONDS - (time.monotonic() - self._code_sent_at))

    def register_event(self, name: str) -> None:
        self._last_activity = time.monotonic()
        flow = self.register
        if flow is None:
            return
        if name in ("toggle_consent", "toggle_marketing"):
            getattr(flow, name)()
            self.show(self.sm.current)
            return

        def after(state) -> None:
            if name in ("submit_phone", "resend") and flow.error is None:
                self._code_sent_at = time.monotonic()
            self.show({RegisterState.PHONE: "register_phone", RegisterState.CODE: "register_code",
                       RegisterState.DONE: "register_done"}[flow.state])

        self.run_async(getattr(flow, name), after)

    def go_home(self) -> None:
        self.register = None
        self.identify.reset()
        self.sm.get_screen("attract").notice = ""
        self.sm.current = "attract"

    def on_stop(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
