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


def test_a_shops_own_modem_is_polled_and_answers_for_that_shop(tmp_path):
    """Two modems: the chain's in [sms], Almaty's in [[sms.shops.ALA1.gateways]]. Each is read by its own poller;
    a text to Almaty's modem is answered from Almaty's modem in Russian under its name and logged as Almaty's,
    a text to the chain's modem is answered from the chain's, as before."""
    import sqlite3

    for name in ("chain", "almaty"):
        (tmp_path / name).mkdir()
    with GsmModemEmulator(tmp_path / "chain") as chain_modem, GsmModemEmulator(tmp_path / "almaty") as almaty_modem:
        srv = init_demo_server(tmp_path / "server")
        with srv.config_path.open("a", encoding="utf-8") as f:
            f.write(f'\n[sms]\ninbound_poll_seconds = 0.2\n\n[[sms.gateways]]\ntype = "gsm_modem"\n'
                    f'port = "{chain_modem.port}"\ntimeout = 1.0\nsend_timeout = 1.0\n'
                    f'\n[[sms.shops.ALA1.gateways]]\ntype = "gsm_modem"\n'
                    f'port = "{almaty_modem.port}"\ntimeout = 1.0\nsend_timeout = 1.0\n')
        srv.cli("shops", "add", "ALA1", "--name", "Almaty", "--timezone", "Asia/Almaty", "--country", "KZ",
                "--public-name", "ru=Кавун Алматы")
        srv.cli("settings", "set", "--shop", "ALA1", "languages", "ru,kk")
        almaty_modem.deliver("+77011239001", "10071")
        chain_modem.deliver("+380501239002", "10072")
        srv.start()
        try:
            # Both replies sent and both texts deleted from their SIMs; the limit only ends a failing run.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                    m.messages() and m.storage == {} for m in (chain_modem, almaty_modem)):
                time.sleep(0.1)
            [(to, text)] = almaty_modem.messages()
            assert to == "+77011239001" and "Кавун Алматы" in text and "10071" in text
            [(to, text)] = chain_modem.messages()
            assert to == "+380501239002" and "10072" in text and "Кавун Алматы" not in text
            assert almaty_modem.storage == {} and chain_modem.storage == {}
        finally:
            srv.stop()
        db = sqlite3.connect(f"file:{srv.database}?mode=ro", uri=True)
        try:
            assert sorted(db.execute("select phone, shop from inbound_sms")) == [
                ("+380501239002", None), ("+77011239001", "ALA1")]
            assert sorted(db.execute("select phone, shop from sms_log")) == [
                ("+380501239002", None), ("+77011239001", "ALA1")]
        finally:
            db.close()
