"""The sync worker: drains the outbox to the store server in batches, in the background.

A timeout is ambiguous (the server may have applied the batch), so the same operations are sent again
with the same ids; the server answers "duplicate" for the ones it already has.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

from .client import ServerError, StoreClient
from .store import LocalStore

log = logging.getLogger(__name__)


@dataclass
class SyncState:
    pending: int = 0
    failed: int = 0
    last_success: float | None = None
    last_error: str | None = None
    online: bool = False


class SyncWorker:
    def __init__(self, store: LocalStore, client: StoreClient, *, batch_size: int = 500,
                 idle_interval: float = 2.0, max_backoff: float = 60.0) -> None:
        self.store = store
        self.client = client
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self.max_backoff = max_backoff
        self.state = SyncState()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    def sync_once(self) -> int:
        """Sends one batch; returns how many operations the server settled. Raises ServerError."""
        batch = self.store.pending(self.batch_size)
        if not batch:
            return 0
        try:
            results = self.client.send_batch(batch)
        except ServerError as e:
            self.store.note_attempt([op["id"] for op in batch], str(e))
            raise
        known = {op["id"] for op in batch}
        self.store.mark_results([r for r in results if r["id"] in known])
        return len(results)

    def drain(self) -> None:
        """Sync until nothing is pending (or the server stops answering)."""
        while self.sync_once():
            pass

    def refresh_state(self) -> SyncState:
        counts = self.store.counts()
        self.state.pending, self.state.failed = counts["pending"], counts["failed"]
        return self.state

    def kick(self) -> None:
        """Something was queued: sync now instead of at the next tick."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.idle_interval
            try:
                while self.sync_once():
                    pass
                self.state.last_success, self.state.last_error, self.state.online = time.time(), None, True
                self._failures = 0
            except ServerError as e:
                self.state.last_error, self.state.online = str(e), False
                self._failures += 1
                # Full jitter: many kiosks coming back after an outage must not hit the server in step.
                delay = random.uniform(0, min(self.max_backoff, self.idle_interval * 2 ** self._failures))
                log.warning("sync failed (%s); next try in %.1fs", e, delay)
            except Exception:  # never let the worker die: the outbox is still there
                log.exception("sync crashed; retrying")
            self.refresh_state()
            self._wake.wait(delay)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
