"""Demo gateway: prints each SMS and appends it to a file. Refuses to run outside demo mode."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

from .base import GatewayError, SendResult


class ConsoleGateway:
    name = "console"

    def __init__(self, outbox_file: str | Path, *, demo: bool) -> None:
        if not demo:
            raise GatewayError("the console SMS gateway is for the demo only; set demo = true or "
                               "configure a real gateway", retryable=False)
        self.path = Path(outbox_file)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, phone: str, text: str) -> SendResult:
        message_id = uuid.uuid4().hex
        record = {"id": message_id, "to": phone, "text": text, "at": time.time()}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"[SMS to {phone}] {text}", file=sys.stderr, flush=True)
        return SendResult(self.name, message_id, "delivered")
