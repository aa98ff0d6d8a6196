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
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
        assert icon.history[0].status_code == 308 and icon.text.startswith("<svg")
        assert client.get("/api/v1/no-such-call").json()["error"] == "not_found"
