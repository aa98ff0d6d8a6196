"""What the server made of a queued operation. A cancel, which the server may refuse, is awaited before the
cashier goes on; everything else is shown as saved at once, and its screen then looks again (`Settling`)
to show the server's own figures (the accrual it gave) or its refusal once the sync has an answer."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ..store import DONE, FAILED


@dataclass(frozen=True)
class Outcome:
    status: str  # "done", "refused" or "queued" (no answer yet: it stays in the outbox)
    error: str | None = None  # the server's stable code when refused
    result: dict | None = None  # the server's answer when done (None from a server that did not give one)


def peek(backend, op_id: str) -> Outcome:
    row = backend.store.operation(op_id)
    if row is not None and row["status"] == DONE:
        result = json.loads(row["result"]) if row.get("result") else None
        return Outcome("done", result=result)
    if row is not None and row["status"] == FAILED:
        # the store keeps the server's "code: message"; the code is what the screen translates
        reason = row.get("failure") or row.get("last_error") or ""
        return Outcome("refused", reason.split(":", 1)[0] or None)
    return Outcome("queued")


def wait_for(backend, op_id: str, *, timeout: float = 8.0, poll: float = 0.05) -> Outcome:
    deadline = time.monotonic() + timeout
    while True:
        outcome = peek(backend, op_id)
        if outcome.status != "queued" or time.monotonic() >= deadline:
            return outcome
        time.sleep(poll)


class Settling:
    """For flows that queue one operation (`operation_id`) and show it as saved before the server answers."""

    operation_id: str | None
    outcome: Outcome | None = None

    @property
    def settled(self) -> bool:
        return self.outcome is not None and self.outcome.status != "queued"

    def settle(self) -> bool:
        """Looks once more at the operation; True when there is news for the screen."""
        if self.operation_id is None or self.settled:
            return False
        outcome = peek(self.backend, self.operation_id)
        changed = outcome != self.outcome
        self.outcome = outcome
        return changed and outcome.status != "queued"
