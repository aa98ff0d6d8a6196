"""Operation ids belong to the device that made them: another device's id, or the same id with another
content, is refused `id_reused` and shows nothing of the first operation (its result holds a balance)."""

from __future__ import annotations

import requests

from tests.support.server import init_demo_server
from tests.support.times import iso_ago


def send(server, key: str, *ops: dict) -> list[dict]:
    r = requests.post(f"{server.url}/api/v1/operations:batch", json={"operations": list(ops)}, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_a_reused_id_is_refused_and_leaks_nothing(tmp_path):
    server = init_demo_server(tmp_path).start()
    try:
        till, other = server.enrol("cashier")["device_key"], server.enrol("cashier")["device_key"]
        sale = {"id": "till-1-sale-0001", "type": "sale", "at": iso_ago(days=3),
                "payload": {"card_number": "10030", "amount": 10_000}}
        [first] = send(server, till, sale)
        assert first["status"] == "applied" and first["result"]["balance"] == 1_000
        [again] = send(server, till, sale)  # the till's own retry: the first answer, nothing applied twice
        assert again == {**first, "status": "duplicate"}
        [stolen] = send(server, other, sale)  # another device guessing or copying the id
        assert stolen["status"] == "rejected" and stolen["error"] == "id_reused" and "result" not in stolen
        changed = {**sale, "payload": {"card_number": "10030", "amount": 99_999}}
        [reused] = send(server, till, changed)
        assert reused["status"] == "rejected" and reused["error"] == "id_reused"
        # Several of them in one batch (the bulk path for plain sales) answer the same way.
        fresh = {**sale, "id": "till-1-sale-0002"}
        results = send(server, other, sale, fresh, {**fresh, "id": "till-1-sale-0003"})
        assert [r["status"] for r in results] == ["rejected", "applied", "applied"]
        assert results[0]["error"] == "id_reused"
        card = requests.get(f"{server.url}/api/v1/cards/10030", headers={"Authorization": f"Bearer {till}"},
                            timeout=10).json()
        assert card["balance"] == 3_000  # three sales, not five
    finally:
        server.stop()
