"""A store server process with a GSM modem (emulated on a pty pair) activates a card texted to it."""

from __future__ import annotations

import time

import requests

from tests.emulators.gsm_modem import GsmModemEmulator
from tests.support.server import init_demo_server


def test_server_polls_the_modem_activates_and_replies(tmp_path):
    with GsmModemEmulator(tmp_path) as emu:
        srv = init_demo_server(tmp_path / "server")
        with srv.config_path.open("a", encoding="utf-8") as f:
            f.write(f'\n[sms]\ninbound_poll_seconds = 0.2\n\n[[sms.gateways]]\ntype = "gsm_modem"\n'
                    f'port = "{emu.port}"\ntimeout = 1.0\nsend_timeout = 1.0\n')
        emu.deliver("+380501112233", "Моя картка 10007")
        srv.start()
        try:
            # The poller sends the reply and only then deletes the text from the SIM: wait for both, with
            # room for a loaded machine, instead of racing the poller's thread between the two.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (emu.messages() and emu.storage == {}):
                time.sleep(0.1)
            [(to, text)] = emu.messages()
            assert to == "+380501112233" and "10007" in text and "STOP" in text
            assert all(sms.dcs == 0x08 for sms in emu.sent)  # Ukrainian welcome in UCS2
            # read, handled and deleted from the SIM (the delete follows the reply: on a loaded machine a moment later)
            while time.monotonic() < deadline and emu.storage:
                time.sleep(0.1)
            assert emu.storage == {}
            enrolled = srv.enrol("cashier")
            card = requests.get(f"{srv.url}/api/v1/cards/10007", timeout=5,
                                headers={"Authorization": f"Bearer {enrolled['device_key']}"}).json()
            assert card["state"] == "active" and card["phone_masked"].endswith("33")
        finally:
            srv.stop()
