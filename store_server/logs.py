"""The server's log: INFO by default, one line per event on stderr, which systemd puts in the journal.

Text lines start with a syslog priority prefix (`<6>` info, `<4>` warning, `<3>` error) when stderr is the
journal (systemd sets $JOURNAL_STREAM), so `journalctl -p warning -u store-server` filters by level; elsewhere
they start with the time and level. `log_format = "json"` in server.toml writes one JSON object a line instead.
Phone numbers are masked in every line, whatever the caller passed (a filter, so a forgotten mask() leaks
nothing).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

from loyalty_common.phones import mask

log = logging.getLogger("store_server")

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
# International numbers as the server stores them (+ and 8-15 digits), also inside longer text.
_PHONE = re.compile(r"(?<![\w+])\+\d{8,15}(?!\d)")


def mask_phones(text: str) -> str:
    return _PHONE.sub(lambda m: mask(m.group(0)), text)


class MaskPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JournalText(logging.Formatter):
    def __init__(self, journal: bool) -> None:
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        if self.journal:  # the journal stamps the time itself
            return f"<{_PRIORITY.get(record.levelno, 6)}>{record.name}: {text}"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        return f"{stamp} {record.levelname} {record.name}: {text}"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup(level: str = "INFO", fmt: str = "text", stream=None) -> logging.Handler:
    """Send the server's (and uvicorn's) log records to stderr in the chosen format; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else JournalText(journal=bool(os.environ.get("JOURNAL_STREAM"))))
    handler.addFilter(MaskPhones())
    for name in ("store_server", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # per-request numbers are in /metrics
    return handler


def event(logger: logging.Logger, message: str, *args, level: int = logging.INFO, **fields) -> None:
    """A log line with fields the JSON format carries as keys (device, card, error, ...)."""
    logger.log(level, message, *args, extra={"fields": {k: mask_phones(str(v)) if isinstance(v, str) else v
                                                         for k, v in fields.items()}})
