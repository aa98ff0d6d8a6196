"""Back-office pages without a browser: what the app answers for addresses nobody links to."""

from __future__ import annotations


def test_a_mistyped_back_office_address_is_a_page(tmp_path):
    from fastapi.testclient import TestClient

    from store_server.api.app import create_app
    from store_server.config import ServerConfig

    config = ServerConfig(data_dir=tmp_path, demo=True, secret_key="k" * 32)
    with TestClient(create_app(config)) as client:
        r = client.get("/admin/no-such-page")
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]
        assert "This page does not exist." in r.text
        assert client.get("/admin/static/admin.css").status_code == 200
        # The icon the pages link to, also where browsers look for it on their own.
        login = client.get("/admin/login")
        assert '<link rel="icon" href="/admin/static/favicon.svg" type="image/svg+xml">' in login.text
        assert '<link rel="icon" href="/favicon.ico" sizes="16x16 32x32 48x48">' in login.text
        assert client.get("/admin/static/favicon.svg").text.startswith("<svg")
        icon = client.get("/favicon.ico", follow_redirects=False)  # an .ico for browsers without SVG icons
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
        count = int.from_bytes(icon.content[4:6], "little")
        assert icon.content[:4] == b"\0\0\1\0" and count == 3  # an icon directory of 16, 32 and 48 px
        entries = [icon.content[6 + 16 * i:22 + 16 * i] for i in range(count)]
        assert [e[0] for e in entries] == [16, 32, 48]
        for e in entries:  # each entry points at a whole PNG inside the file
            size, at = int.from_bytes(e[8:12], "little"), int.from_bytes(e[12:16], "little")
            assert icon.content[at:at + 8] == b"\x89PNG\r\n\x1a\n" and at + size <= len(icon.content)
        assert client.get("/api/v1/no-such-call").json()["error"] == "not_found"
