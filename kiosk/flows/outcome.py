"""Waiting for the server's verdict on one queued operation, for acts the cashier must see settled
(a cancel that the server may refuse). Everything else is queued and shown as done at once."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..store import DONE, FAILED


@dataclass(frozen=True)
class Outcome:
    status: str  # "done", "refused" or "queued" (no answer within the wait: it stays in the outbox)
    error: str | None = None  # the server's stable code when refused


def wait_for(backend, op_id: str, *, timeout: float = 8.0, poll: float = 0.05) -> Outcome:
    deadline = time.monotonic() + timeout
    while True:
        row = backend.store.operation(op_id)
        if row is not None and row["status"] == DONE:
            return Outcome("done")
        if row is not None and row["status"] == FAILED:
            # the store keeps the server's "code: message"; the code is what the screen translates
            reason = row.get("failure") or row.get("last_error") or ""
            return Outcome("refused", reason.split(":", 1)[0] or None)
        if time.monotonic() >= deadline:
            return Outcome("queued")
        time.sleep(poll)
