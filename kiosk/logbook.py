"""The last lines the kiosk logged, kept in memory for the technician's log screen.

The journal keeps the full log on disk (`journalctl -u kiosk`); this is what a technician standing at the
kiosk with no laptop needs: the latest sync errors, scanner unplugs and server refusals. Phone numbers are
masked here as on the screens, whatever a library put in its message.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque

from loyalty_common.phones import mask

CAPACITY = 300
# an international number as libraries and servers write it: +, country code, groups of digits
_PHONE = re.compile(r"\+\d[\d \-]{8,17}\d")


def _masked(text: str) -> str:
    return _PHONE.sub(lambda m: mask(re.sub(r"[ \-]", "", m.group())), text)


class RecentLog(logging.Handler):
    def __init__(self, capacity: int = CAPACITY, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: deque[str] = deque(maxlen=capacity)
        self._guard = threading.Lock()  # the sync and scanner threads log too
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%d.%m %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = _masked(self.format(record))
        except Exception:  # a record that cannot be formatted must not break the code that logged it
            self.handleError(record)
            return
        with self._guard:
            self._lines.append(line)

    def lines(self) -> list[str]:
        """Oldest first."""
        with self._guard:
            return list(self._lines)


def install(logger: logging.Logger | None = None) -> RecentLog:
    """Attaches the one RecentLog to the root logger (again: the same one) and returns it."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if isinstance(handler, RecentLog):
            return handler
    handler = RecentLog()
    logger.addHandler(handler)
    if logger.level > logging.INFO:  # Python's default WARNING; Kivy leaves the root at NOTSET (everything)
        logger.setLevel(logging.INFO)
    return handler
