"""The back office issues a range of printed cards for one shop of the chain (issue 19): the form offers the shops
once there are two, the range lists its shop, and its printer CSV carries that shop's Code 128 text prefix. A real
server and a signed-in HTTP session (the form's fields as a browser sends them)."""

from __future__ import annotations

import csv
import io
import json

from .conftest import csrf_of, session

CODE128 = {"text_prefix": "LK", "first_number": 10001, "ean_lengths": [], "sample": "LK10001"}


def test_a_range_for_a_shop_from_the_back_office(server):
    owner = session(server)
    page = owner.get(f"{server.url}/admin/card-types", timeout=10).text
    assert 'name="shop"' not in page  # one shop: nothing to choose
    server.cli("shops", "add", "LKS", "--name", "Code 128 shop", "--timezone", "Europe/Kyiv", "--country", "UA")
    server.cli("settings", "set", "--shop", "LKS", "card_rules", json.dumps(CODE128))
    page = owner.get(f"{server.url}/admin/card-types", timeout=10).text
    assert '<select name="shop">' in page and '<option value="LKS">LKS</option>' in page

    csrf = csrf_of(owner, f"{server.url}/admin/card-types")
    refused = owner.post(f"{server.url}/admin/card-ranges", timeout=10,
                         data={"csrf": csrf, "first": "40001", "last": "40002", "shop": "NOPE"})
    assert refused.status_code == 400 and "No such shop." in refused.text  # and nothing issued
    issued = owner.post(f"{server.url}/admin/card-ranges", timeout=10, allow_redirects=False,
                        data={"csrf": csrf, "card_type": "standard", "first": "40001", "last": "40003", "shop": "LKS"})
    assert issued.status_code == 303, issued.text[:500]
    page = owner.get(f"{server.url}/admin/card-types", timeout=10).text
    ranges = page.split('id="card-ranges"', 1)[1]
    row = ranges.split('<tbody>', 1)[1].split('</tr>', 1)[0]  # the newest range first
    assert "40001" in row and "LKS" in row
    range_id = row.split('id="range-', 1)[1].split('"', 1)[0]
    exported = owner.post(f"{server.url}/admin/card-ranges/{range_id}/export", data={"csrf": csrf}, timeout=10)
    assert exported.status_code == 200, exported.text[:500]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["card_number"], r["barcode"], r["barcode_type"]) for r in rows] == [
        ("40001", "LK40001", "Code 128"), ("40002", "LK40002", "Code 128"), ("40003", "LK40003", "Code 128")]
