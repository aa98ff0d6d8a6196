"""The sync worker: drains the outbox to the store server in batches, in the background.

A timeout is ambiguous (the server may have applied the batch), so the same operations are sent again
with the same ids; the server answers "duplicate" for the ones it already has. Nothing here deletes an
operation the server has not settled: a row leaves `pending` only on the server's own per-id answer.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

from .client import ServerError, ServerFault, ServerRefused, ServerTimeout, StoreClient
from .store import SYNC_LAST_ERROR, SYNC_LAST_ERROR_AT, SYNC_LAST_SUCCESS, LocalStore

log = logging.getLogger(__name__)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("loyalty-kiosk")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+source"


APP_VERSION = _version()

# Whole-batch refusals that are about the operations themselves (malformed, too large), as opposed to the
# device (401/403), the rate (429) or a wrong URL (404): those are split until the culprit is alone.
_PAYLOAD_REFUSALS = (400, 413, 422)
# A 5xx may be a passing hiccup (a restart, a proxy) or one operation the server keeps failing on: the
# same batch is sent whole this many times before it is split to find the operation (SyncWorker._isolate).
SPLIT_AFTER_5XX = 2
SERVER_FAILED = "server_error"


@dataclass
class SyncState:
    pending: int = 0
    failed: int = 0
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    online: bool = False


class SyncWorker:
    def __init__(self, store: LocalStore, client: StoreClient, *, batch_size: int = 500,
                 idle_interval: float = 2.0, max_backoff: float = 60.0, batch_timeout: float = 30.0,
                 refresh_touched_within: float = 24 * 3600, refresh_max_age: float = 15 * 60,
                 heartbeat: float = 30.0, keep_done: float = 7 * 24 * 3600) -> None:
        self.store = store
        self.client = client
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self.max_backoff = max_backoff
        # A batch of 500 takes the server far longer than a card lookup; a too short timeout would only
        # make the same batch go again and again.
        self.batch_timeout = max(batch_timeout, client.timeout)
        self.refresh_touched_within = refresh_touched_within
        self.refresh_max_age = refresh_max_age
        self.heartbeat = heartbeat
        self.keep_done = keep_done
        self.state = SyncState(last_success=store.get_setting(SYNC_LAST_SUCCESS),
                               last_error=store.get_setting(SYNC_LAST_ERROR),
                               last_error_at=store.get_setting(SYNC_LAST_ERROR_AT))
        self._limit = batch_size  # shrinks after timeouts, grows back on success
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._faults = 0  # 5xx answers in a row
        self._last_contact = 0.0
        self._persisted_success = 0.0
        self._last_prune = 0.0
        self.refresh_state()

    # one step at a time (used by the thread, tests and benchmarks) -------------------------------
    def sync_once(self) -> int:
        """Sends one batch; returns how many operations the server settled. Raises ServerError."""
        batch = self.store.pending(self._limit)
        if not batch:
            return 0
        try:
            settled = self._deliver(batch)
        except ServerTimeout:
            self._limit = max(1, self._limit // 2)
            raise
        except ServerFault:
            self._faults += 1
            if self._faults < SPLIT_AFTER_5XX:
                raise
            settled = self._isolate(batch)
        self._faults = 0
        self._limit = min(self.batch_size, self._limit * 2)
        self._last_contact = time.time()
        return settled

    def _deliver(self, batch: list[dict]) -> int:
        try:
            results = self.client.send_batch(batch, timeout=self.batch_timeout, backlog=self.store.backlog())
        except ServerRefused as e:
            if e.status not in _PAYLOAD_REFUSALS:
                self.store.note_attempt([op["id"] for op in batch], str(e))
                raise
            if len(batch) == 1:
                log.warning("operation %s refused by the server: %s", batch[0]["id"], e)
                self.store.mark_failed(batch[0]["id"], str(e))
                return 1
            middle = len(batch) // 2
            return self._deliver(batch[:middle]) + self._deliver(batch[middle:])
        except ServerError as e:
            self.store.note_attempt([op["id"] for op in batch], str(e))
            raise
        known = {op["id"] for op in batch}
        marked = self.store.mark_results([r for r in results if r["id"] in known])
        return marked["done"] + marked["failed"]

    def _isolate(self, batch: list[dict]) -> int:
        """The server keeps answering 5xx to this batch: halve it until the operations it fails on stand
        alone, deliver the rest, and set those aside as failed (with the reason, for the technician's
        screen, where they can be sent again). Only when the server applied others meanwhile: a server that
        fails on everything is down, not poisoned, and then nothing is set aside (ServerFault is raised
        after a few requests, not after one per operation)."""
        parts, settled, healthy, poisoned = [batch], 0, False, []
        while parts:
            part = parts.pop(0)
            try:
                settled += self._deliver(part)
                healthy = True
                continue
            except ServerFault as e:
                if len(part) > 1:
                    middle = len(part) // 2
                    parts[:0] = [part[:middle], part[middle:]]
                else:
                    poisoned.append((part[0], e))
            if not healthy and len(poisoned) >= 2:
                break  # two single operations failed and nothing went through: the server is failing
        if not healthy:
            self.store.note_attempt([op["id"] for op in batch], str(poisoned[0][1]))
            raise poisoned[0][1]
        for op, error in poisoned:
            log.error("operation %s: the server failed on it again and again (%s); set aside as failed",
                      op["id"], error)
            self.store.mark_failed(op["id"], f"{SERVER_FAILED}: {error}")
        return settled + len(poisoned)

    def drain(self) -> int:
        """Sync until nothing is pending; raises ServerError if the server stops answering."""
        total = 0
        while not self._stop.is_set() and (n := self.sync_once()):
            total += n
        return total

    def refresh_cards(self, limit: int = 50) -> int:
        """Fetches fresh views of cards customers used here recently, so an outage shows recent balances."""
        numbers = self.store.cards_to_refresh(touched_within=self.refresh_touched_within,
                                              max_age=self.refresh_max_age, limit=limit)
        for number in numbers:
            try:
                card = self.client.card(number)
            except ServerRefused as e:
                if e.code == "card_not_found":
                    self.store.forget_card(number)
                    continue
                raise
            self.store.cache_card(card, touch=False)
            self._last_contact = time.time()
        return len(numbers)

    def refresh_state(self) -> SyncState:
        counts = self.store.counts()
        self.state.pending, self.state.failed = counts["pending"], counts["failed"]
        return self.state

    @property
    def failing(self) -> bool:
        """The last round could not reach the server (and none has succeeded since)."""
        return self._failures > 0

    # the background thread ----------------------------------------------------------------------
    def kick(self) -> None:
        """Something was queued: sync now instead of at the next tick. During a backoff the wait is kept,
        so a busy till does not hammer a server that is down."""
        if self._failures == 0:
            self._wake.set()

    def _keep_shop_config(self, shop) -> None:
        # The heartbeat's answer is the shop's current word (till rights, code rules, languages): a device
        # must not act for months on the copy it got at enrolment.
        if isinstance(shop, dict) and shop != self.store.get_setting("shop_config"):
            self.store.set_setting("shop_config", shop)
            if shop.get("public_name"):
                self.store.set_setting("shop_name", shop["public_name"])

    def _heartbeat(self):
        """The back office's device list shows what this says; the answer is the shop's config."""
        state = self.refresh_state()
        status = {"app_version": APP_VERSION, "outbox_pending": state.pending, "outbox_failed": state.failed,
                  "last_sync_error": (state.last_error or "")[:300] or None,
                  "last_sync_error_at": state.last_error_at}
        try:
            return self.client.heartbeat(status)
        except ServerRefused as e:
            if e.status != 404:  # a server from before the heartbeat: its /config still answers
                raise
            return self.client.config()

    def step(self) -> float:
        """One round of the worker's loop; returns how long to wait before the next one."""
        try:
            sent = self.drain()
            refreshed = self.refresh_cards()
            if not sent and not refreshed and time.time() - self._last_contact > self.heartbeat:
                self._keep_shop_config(self._heartbeat())
                self._last_contact = time.time()
            self._succeeded(changed=bool(sent or refreshed))
            delay = self.idle_interval
        except ServerError as e:
            self._failed(str(e))
            # Full jitter: many kiosks coming back after an outage must not hit the server in step.
            delay = random.uniform(0, min(self.max_backoff, self.idle_interval * 2 ** self._failures))
            log.warning("sync failed (%s); next try in %.1fs", e, delay)
        if time.time() - self._last_prune > 3600:
            self._last_prune = time.time()
            self.store.prune_done(self.keep_done)
        self.refresh_state()
        return delay

    def _succeeded(self, *, changed: bool) -> None:
        now = time.time()
        was_failing = self._failures > 0 or not self.state.online
        self._failures = 0
        self.state.last_success, self.state.online = now, True
        # Persisting is an fsync: do it when something happened, not on every idle tick.
        if changed or was_failing or now - self._persisted_success > 60:
            self.store.set_setting(SYNC_LAST_SUCCESS, now)
            self._persisted_success = now

    def _failed(self, message: str) -> None:
        now = time.time()
        self._failures += 1
        self.state.online = False
        if message != self.state.last_error or self._failures == 1:
            self.store.set_settings({SYNC_LAST_ERROR: message, SYNC_LAST_ERROR_AT: now})
        self.state.last_error, self.state.last_error_at = message, now

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception:  # never let the worker die: the outbox is still there
                log.exception("sync crashed; retrying")
                delay = self.max_backoff
            self._wake.wait(delay)
            self._wake.clear()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            # Daemon thread: a batch stuck on a hanging server must not hold up shutdown; its rows stay
            # pending and go again (same ids) on the next start.
            self._thread.join(timeout=5)
