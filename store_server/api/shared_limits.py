"""Rate limits that hold across server processes and hosts: fixed windows counted in the database.

With `serve --workers N`, or several hosts on one PostgreSQL, a counter kept in each process would let a
client have N times the limit. `SharedWindow` counts events per subject (a device, a client address) in
fixed windows (one minute by default) in the `rate_counts` table, so every process sees the others' counts,
and judges a sliding minute from the current and the previous window (the previous one weighted by how
much of it is still within the last minute):

- `wait(subject)` answers from memory: the subject's total as the database last told this process, plus
  what this process counted since. No database round trip, so a card look-up costs no more than before.
- `add(subject)` counts in memory. A background thread writes what was counted (one upsert per subject)
  and reads the totals back every `flush_seconds`, and at once when a subject's unwritten count reaches a
  tenth of the limit. A client spread over processes therefore gets at most about a tenth of the limit
  more per process, not N times the limit.
- `sync(subject)` writes and reads back now, for a call that can afford a round trip (enrolment).

The windows are the wall clock's minutes: hosts sharing a database need synchronised clocks (NTP), which
they have for the ledger's times anyway. Rows of windows that have passed are deleted as the thread goes.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from ..data.db import rate_counts, run_write

log = logging.getLogger(__name__)


def _upsert(conn, rows: list[dict]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(rate_counts)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[rate_counts.c.kind, rate_counts.c.subject, rate_counts.c.window_no],
        set_={"count": rate_counts.c.count + stmt.excluded.count}), rows)


class SharedWindow:
    def __init__(self, engine: Engine, kind: str, limit: int, window: int = 60, flush_seconds: float = 1.0,
                 max_subjects: int = 10_000) -> None:
        self.engine, self.kind, self.limit, self.window = engine, kind, limit, window
        self.flush_seconds, self.max_subjects = flush_seconds, max_subjects
        self._early = max(1, limit // 10)  # unwritten events of one subject that trigger a flush now
        # subject -> {window number: count}, only the current and the previous window kept.
        self._known: dict[str, dict[int, int]] = {}  # totals in the database when this process last looked
        self._pending: dict[str, dict[int, int]] = {}  # counted here, not yet written
        self._flying: dict[str, dict[int, int]] = {}  # being written by a flush, not yet in _known
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time (the thread's and a sync's)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _estimate(self, subject: str, now: float) -> tuple[float, int, int]:
        window = int(now // self.window)
        current = previous = 0
        for table in (self._known, self._flying, self._pending):
            counts = table.get(subject)
            if counts:
                current += counts.get(window, 0)
                previous += counts.get(window - 1, 0)
        # A sliding minute estimated from two fixed ones: the previous window weighs what is left of it in
        # the last 60 s. No burst of twice the limit across a window's edge, and no reset at the edge.
        elapsed = (now % self.window) / self.window
        return previous * (1 - elapsed) + current, previous, current

    def wait(self, subject: str, now: float | None = None) -> float | None:
        """None when another event is allowed now; otherwise the seconds until one is."""
        now = time.time() if now is None else now
        with self._lock:
            estimate, previous, current = self._estimate(subject[:64], now)
        if estimate < self.limit:
            return None
        to_edge = self.window - now % self.window
        if current >= self.limit or previous == 0:
            return to_edge  # the next window starts with this one as its previous: a rough but safe answer
        # previous * (1 - t / window) + current < limit  <=>  t > window * (1 - (limit - current) / previous)
        allowed_at = self.window * (1 - (self.limit - current) / previous)
        return max(0.001, allowed_at - now % self.window)

    def add(self, subject: str, now: float | None = None) -> None:
        window, subject = int((time.time() if now is None else now) // self.window), subject[:64]
        with self._lock:
            if subject not in self._pending and len(self._pending) >= self.max_subjects:
                return  # an address-spraying client must not grow memory
            counts = self._pending.setdefault(subject, {})
            counts[window] = count = counts.get(window, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"rate-{self.kind}", daemon=True)
                self._thread.start()
        if count >= self._early:
            self._wake.set()

    def sync(self, subject: str, now: float | None = None) -> None:
        """Writes what this process counted and reads `subject`'s totals now (a database round trip)."""
        self.flush(also=[subject[:64]], now=now)

    def flush(self, also: list[str] | None = None, now: float | None = None) -> None:
        with self._flushing:
            self._flush(also, time.time() if now is None else now)

    def _flush(self, also: list[str] | None, now: float) -> None:
        window = int(now // self.window)
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flying = pending
        rows = [{"kind": self.kind, "subject": s, "window_no": w, "count": c}
                for s, counts in pending.items() for w, c in counts.items() if w >= window - 1]
        subjects = sorted(set(pending) | set(also or []))
        if not subjects:
            return

        def write(conn) -> dict[str, dict[int, int]]:
            if rows:
                _upsert(conn, rows)
                # Windows before the previous one are never asked about again.
                conn.execute(delete(rate_counts).where(rate_counts.c.kind == self.kind,
                                                       rate_counts.c.window_no < window - 1))
            totals: dict[str, dict[int, int]] = {}
            for start in range(0, len(subjects), 500):
                for subject, at, count in conn.execute(
                        select(rate_counts.c.subject, rate_counts.c.window_no, rate_counts.c.count).where(
                            rate_counts.c.kind == self.kind, rate_counts.c.window_no >= window - 1,
                            rate_counts.c.subject.in_(subjects[start:start + 500]))).tuples():
                    totals.setdefault(subject, {})[at] = count
            return totals

        try:
            if rows:
                totals = run_write(self.engine, write)
            else:
                with self.engine.connect() as conn:
                    totals = write(conn)
        except Exception:  # the database is away: keep the counts for the next try, limits stay local
            log.warning("could not write the %s rate counts; keeping them for the next try", self.kind,
                        exc_info=True)
            with self._lock:
                self._flying = {}
                for subject, counts in pending.items():
                    mine = self._pending.setdefault(subject, {})
                    for w, c in counts.items():
                        mine[w] = mine.get(w, 0) + c
            return
        with self._lock:
            self._flying = {}
            for subject in subjects:
                self._known[subject] = totals.get(subject, {})
            if len(self._known) > self.max_subjects:  # forget the subjects quiet for two windows
                self._known = {s: v for s, v in self._known.items() if max(v, default=0) >= window - 1}

    def _run(self) -> None:
        idle = 0.0
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            with self._lock:
                busy = bool(self._pending)
                if not busy and idle >= 10 * self.flush_seconds:
                    self._thread = None  # nothing counted for a while: the next add() starts a new thread
                    return
            idle = 0.0 if busy else idle + self.flush_seconds
            if busy:
                self.flush()
