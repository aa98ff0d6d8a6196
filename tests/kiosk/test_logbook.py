"""The technician's log lines: kept in memory, newest kept when full, phones masked whatever logged them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kiosk import logbook
from kiosk.logbook import RecentLog


@contextmanager
def attached(name: str, capacity: int) -> Iterator[tuple[logging.Logger, RecentLog]]:
    logger = logging.getLogger(name)
    handler = RecentLog(capacity=capacity)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)


def test_lines_are_kept_oldest_first_and_phones_are_masked():
    with attached("test.logbook.mask", 10) as (logger, handler):
        logger.info("code sent to %s", "+380501234567")
        logger.warning("gateway said: bad number +380 50 123 45 67")
        logger.debug("not kept: below INFO")
    lines = handler.lines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO test.logbook.mask: code sent to +380 •• ••• •• 67")
    assert "+380 •• ••• •• 67" in lines[1] and "123" not in lines[1]


def test_a_full_log_keeps_the_newest_lines_even_from_many_threads():
    with attached("test.logbook.full", 50) as (logger, handler):
        threads = [threading.Thread(target=lambda t=t: [logger.info("t%d n%d", t, n) for n in range(200)])
                   for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        logger.info("last")
    lines = handler.lines()
    assert len(lines) == 50 and lines[-1].endswith("last")


def test_install_attaches_one_handler_however_often_it_is_called():
    logger = logging.getLogger("test.logbook.install")
    logger.setLevel(logging.WARNING)
    first = logbook.install(logger)
    try:
        assert logbook.install(logger) is first
        assert [h for h in logger.handlers if isinstance(h, RecentLog)] == [first]
        logger.info("sync: server unreachable")  # INFO reaches it: the level was lowered for it
        assert first.lines()[-1].endswith("sync: server unreachable")
    finally:
        logger.removeHandler(first)
