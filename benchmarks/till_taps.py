"""Taps and waits for one receipt at the till, beside a plain sale measured in the same run (the anchor).

Issue 13 counted 19 taps for a sale paid partly with bonuses (a sale, then a separate "pay with bonuses"
with its own amount, the cashier working out the rest by hand). Here one receipt does it: the amount, the
preview, "Pay with bonuses" (the server's cap already typed in, or another amount), Apply, Confirm, the
customer's 6-digit code, Confirm. Starts a demo store server on loopback and drives the till's own flows
(each numpad key or button the cashier presses counts as one tap; the code's digits are counted apart,
since the customer reads them out). Also times the preview call (`POST /receipts:preview`) beside a card
look-up (`GET /cards/{n}`), both server round trips of the same run.

    .venv/bin/python benchmarks/till_taps.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kiosk.backend import Backend  # noqa: E402
from kiosk.client import StoreClient  # noqa: E402
from kiosk.flows.register import RegisterFlow  # noqa: E402
from kiosk.flows.sale import SaleFlow, SaleState  # noqa: E402
from kiosk.store import LocalStore  # noqa: E402
from kiosk.sync import SyncWorker  # noqa: E402
from tests.support.server import init_demo_server  # noqa: E402

PHONE, CARD = "+380671110099", "10042"


class Counted:
    """The cashier's fingers: every key and button goes through here and is counted."""

    def __init__(self, flow) -> None:
        self.flow, self.taps, self.code_digits = flow, 1, 0  # 1: "Sale" on the card screen

    def keys(self, text: str) -> None:
        for key in text:
            self.flow.press(key)
            self.taps += 1

    def button(self, name: str):
        self.taps += 1
        return getattr(self.flow, name)()


def device(server, tmp: Path, role: str, name: str) -> Backend:
    enrolled = server.enrol(role, name=name)
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp / f"{name}.db")
    store.set_setting("shop_config", client.config())
    return Backend(store, client, SyncWorker(store, client))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = init_demo_server(tmp / "server").start()
        try:
            server.cli("settings", "set", "otp", '{"resend_after_seconds": 1, "sends_per_phone_15min": 1000, '
                                                 '"sends_per_phone_day": 1000}')
            entrance = device(server, tmp, "entrance", "entrance")
            register = RegisterFlow(entrance, card_number=CARD)
            for key in PHONE:
                register.press(key)
            register.toggle_consent()
            assert register.submit_phone().value == "code", register.error
            for key in server.last_code(PHONE):
                register.press(key)
            register.submit_code()
            entrance.sync.drain()
            till = device(server, tmp, "cashier", "till")
            pin = server.cli("cashiers", "add", "Bench").rsplit("PIN", 1)[1].split()[0]
            till.cashier = till.client.cashier_login(pin=pin)["cashier_id"]

            plain = Counted(SaleFlow(till, till.client.card(CARD)))
            plain.keys("250")
            plain.button("preview")
            assert plain.button("confirm") is SaleState.DONE
            till.sync.drain()

            with_bonus = Counted(SaleFlow(till, till.client.card(CARD)))
            with_bonus.keys("100")
            with_bonus.button("preview")
            with_bonus.button("choose_bonus")  # the cap is offered; the first digit types another amount
            with_bonus.keys("10")
            with_bonus.button("apply_bonus")
            assert with_bonus.button("confirm") is SaleState.CODE, with_bonus.flow.error
            code = server.last_code(PHONE)
            for key in code:
                with_bonus.flow.press(key)
            with_bonus.code_digits = len(code)
            with_bonus.taps += with_bonus.code_digits
            assert with_bonus.button("submit_code") is SaleState.DONE, with_bonus.flow.error
            till.sync.drain()

            previews, lookups = [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                till.client.card(CARD)
                lookups.append(time.perf_counter() - started)
                started = time.perf_counter()
                till.client.receipt_preview(CARD, 10000, 1000)
                previews.append(time.perf_counter() - started)
        finally:
            server.stop()
    print(f"plain sale of 250 (anchor): {plain.taps} taps")
    print(f"receipt of 100 paid 10 with bonuses: {with_bonus.taps} taps, of which {with_bonus.code_digits} the "
          f"customer's code digits ({with_bonus.taps / plain.taps:.1f}x the plain sale; issue 13 counted 19 "
          f"for it before, as a sale and a separate payment with bonuses)")
    print(f"  the same paying the whole cap: {with_bonus.taps - len('10') - with_bonus.code_digits} taps "
          f"without the code's digits")
    lookup, preview = statistics.median(lookups) * 1000, statistics.median(previews) * 1000
    print(f"receipt preview {preview:.1f} ms median vs card look-up {lookup:.1f} ms (anchor) over {args.rounds} "
          f"rounds: {preview / lookup:.2f}x")


if __name__ == "__main__":
    main()
