"""The kiosk reads cards by its shop's card_rules from the server (issue 18): received in /config, used for
scans and typed numbers, the server's `card_not_ours` shown as "not one of our cards", and `kiosk selftest`
decoding the shop's sample. A real server process; the kiosk's own kiosk.toml [cards] is the fallback."""

from __future__ import annotations

import json

import pytest

from drivers.scanner.base import Scan
from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.config import KioskConfig
from kiosk.flows.cashier import refresh_shop_config
from kiosk.flows.identify import IdentifyFlow, IdentifyState
from kiosk.selftest import OK, check_cards
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker
from tests.support.cli import run_cli
from tests.support.server import init_demo_server

CODE128 = {"text_prefix": "LK", "first_number": 10001, "ean_lengths": [], "sample": "LK10001"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("cardrules"))
    srv.start()
    for args in (("shops", "add", "LKS", "--name", "Code 128 shop", "--timezone", "Europe/Kyiv", "--country", "UA"),
                 ("settings", "set", "--shop", "LKS", "card_rules", json.dumps(CODE128)),
                 ("cards", "issue", "20001", "20010", "--shop", "LKS")):
        run_cli("--config", str(srv.config_path), *args, check=True)
    yield srv
    srv.stop()


def test_a_kiosk_reads_cards_by_its_shops_rules_once_it_has_them(server, tmp_path, monkeypatch):
    monkeypatch.delenv("KIOSK_STATE_DIR", raising=False)
    enrolled = server.enrol("entrance", shop="LKS")
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "kiosk.db")
    backend = Backend(store, client, SyncWorker(store, client))
    config = KioskConfig(state_dir=tmp_path)  # kiosk.toml without [cards]: the default rules
    flow = IdentifyFlow(backend, config.card_rules)

    # before the kiosk has its shop's /config, its own rules refuse the Code 128 text
    assert flow.on_scan(Scan("LK20001", "test")) is IdentifyState.NOT_OURS and flow.error == "not_a_card"
    assert refresh_shop_config(backend)["card_rules"] == CODE128
    assert flow.on_scan(Scan("LK20001", "test")) is IdentifyState.CARD and flow.card["number"] == "20001"
    assert flow.on_scan(Scan("LK12", "test")) is IdentifyState.NOT_OURS and flow.error == "wrong_length"

    flow.start_typing("card")
    for key in "20002":
        flow.press(key)
    assert flow.submit_typed() is IdentifyState.CARD and flow.card["number"] == "20002"
    # a typed number the rules refuse still goes to the server (digital cards, older cards), which says
    # "not ours" by the shop's rules: shown as not one of our cards, not as an error
    flow.start_typing("card")
    for key in "123":
        flow.press(key)
    assert flow.submit_typed() is IdentifyState.NOT_OURS and flow.error == "not_ours"

    # the self-test reads the same copy of /config and decodes the shop's sample by the shop's rules
    check = check_cards(config)
    assert check.status == OK, check
    assert "LK10001 -> card 10001" in check.detail and "from the shop's card_rules" in check.detail
    client.close()
    store.close()
