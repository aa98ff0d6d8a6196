"""systemd service notifications (sd_notify) without libsystemd.

kiosk.service is ``Type=notify`` with ``WatchdogSec=``: systemd waits for ``READY=1`` before it counts the
kiosk as started, and restarts it when ``WATCHDOG=1`` stops arriving. The app pings from the Kivy clock, so
a hung UI thread (not just a dead process) gets the kiosk restarted.

The protocol is one datagram per message on the AF_UNIX socket named by ``$NOTIFY_SOCKET``
(sd_notify(3)); a name starting with ``@`` is in the abstract namespace. Outside systemd the variable is
unset and every call here does nothing, so ``kiosk demo`` and the tests need no special casing.
"""

from __future__ import annotations

import os
import socket

__all__ = ["KivyPinger", "enabled", "interval", "notify", "ping", "ready", "status", "stopping"]


def _address(raw: str) -> str | bytes:
    if raw.startswith("@"):
        # Abstract namespace: the leading NUL replaces the '@' (sd_notify(3)).
        return b"\0" + raw[1:].encode()
    return raw


def notify(*fields: str) -> bool:
    """Send ``KEY=value`` fields to systemd as one message.

    Returns True when a message was sent, False when not running under a notify-aware service manager.
    A failure to send is swallowed on purpose: a full socket must never crash the kiosk, and if pings
    really stop reaching systemd the watchdog restart is the right outcome anyway.
    """
    target = os.environ.get("NOTIFY_SOCKET")
    if not target or not fields:
        return False
    for field in fields:
        if "=" not in field or "\n" in field:
            raise ValueError(f"sd_notify field must be KEY=value on one line: {field!r}")
    message = "\n".join(fields).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message, _address(target))
    except OSError:
        return False
    return True


def ready(status_text: str | None = None) -> bool:
    """Tell systemd start-up is done (call once the window is up and the first screen is drawn)."""
    fields = ["READY=1"]
    if status_text:
        fields.append(f"STATUS={_one_line(status_text)}")
    return notify(*fields)


def ping() -> bool:
    """Keep-alive for ``WatchdogSec=``; call from the UI thread at least every ``interval()`` seconds."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """Free-form one-line state shown by ``systemctl status kiosk``."""
    return notify(f"STATUS={_one_line(text)}")


def stopping() -> bool:
    """Tell systemd a clean shutdown has begun, so the watchdog does not fire during it."""
    return notify("STOPPING=1")


def enabled() -> bool:
    """True when systemd expects watchdog pings from this process."""
    return interval() is not None


def interval() -> float | None:
    """Seconds between pings: half the watchdog timeout (sd_watchdog_enabled(3)), or None if no watchdog.

    ``WATCHDOG_PID`` is honoured so a child process that inherited the environment does not ping in the
    parent's name.
    """
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value / 1_000_000 / 2


def _one_line(text: str) -> str:
    return " ".join(text.split())


class KivyPinger:
    """Sends READY=1 once the first frame is drawn, then WATCHDOG=1 from the Kivy clock.

    Pinging from the clock (not a thread) is the point: if the UI thread hangs, pings stop and systemd
    restarts the kiosk. Kivy's clock holds callbacks weakly, so the caller keeps this object alive.
    """

    def __init__(self) -> None:
        self.sent_ready = False

    def start(self) -> KivyPinger:
        from kivy.clock import Clock

        # Two frames: the first callback runs before the first draw, the second after it.
        Clock.schedule_once(lambda _dt: Clock.schedule_once(self._ready, 0), 0)
        every = interval()
        if every is not None:
            Clock.schedule_interval(self._ping, min(every, 5.0))
        return self

    def _ready(self, _dt) -> None:
        from kivy.app import App

        app = App.get_running_app()
        screen = None
        if app is not None:
            app.bind(on_stop=lambda *_a: stopping())
            screen = getattr(getattr(app, "sm", None), "current", None)
        self.sent_ready = True
        # `systemctl status kiosk` shows this; the bundle test waits for it.
        ready(f"kiosk up, screen {screen}" if screen else "kiosk up")

    def _ping(self, _dt) -> None:
        ping()
