"""Back-office tests: a real store server process, accounts made with the CLI, Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from store_server import clock
from store_server.data.db import cards, customers, make_engine, write_transaction
from store_server.ledger import binding
from tests.support.cli import run_cli
from tests.support.server import init_demo_server

OWNER, OPERATOR, PASSWORD = "olga", "petro", "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "admin"
SIZES = ((1366, 768), (800, 1280))


def add_account(server, name: str, role: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    return run_cli("--config", str(server.config_path), "admin", "add", name, "--role", role, input=password + "\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("backoffice")).start()
    for name, role in ((OWNER, "owner"), (OPERATOR, "operator")):
        assert add_account(srv, name, role).returncode == 0
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def db(server):
    return make_engine(f"sqlite:///{server.database}")


def seed_customer(db, number: str, phone: str, name: str) -> int:
    from sqlalchemy import select, update

    # The server writes to this file too (sessions, devices, operations). A deferred BEGIN that reads the card
    # and then writes fails AT ONCE with "database is locked" when the server committed in between (SQLite
    # cannot upgrade a stale WAL snapshot; the busy timeout does not apply). BEGIN IMMEDIATE, as the server
    # itself writes, waits for the lock instead.
    with write_transaction(db) as conn:
        card = conn.execute(select(cards).where(cards.c.number == number)).mappings().one()
        customer_id = binding.bind(conn, dict(card), phone, {"consent": True, "marketing": True}, at=clock.now(),
                                   questionnaire=[])
        conn.execute(update(customers).where(customers.c.id == customer_id).values(name=name))
    return customer_id


class Till:
    """A cashier device speaking the real device API."""

    def __init__(self, server, name: str = "Till 1") -> None:
        self.server = server
        enrolled = server.enrol("cashier", name=name)
        self.id = enrolled["device_id"]
        self.headers = {"Authorization": f"Bearer {enrolled['device_key']}"}

    def batch(self, *ops: dict) -> list[dict]:
        r = requests.post(f"{self.server.url}/api/v1/operations:batch", headers=self.headers, timeout=10,
                          json={"operations": list(ops)})
        r.raise_for_status()
        return r.json()["results"]

    def sale(self, number: str, amount: int, cashier: str = "Iryna") -> dict:
        import uuid

        return self.batch({"id": str(uuid.uuid4()), "type": "sale", "at": clock.now().isoformat(),
                           "cashier": cashier, "payload": {"card_number": number, "amount": amount}})[0]

    def card(self, number: str) -> dict:
        r = requests.get(f"{self.server.url}/api/v1/cards/{number}", headers=self.headers, timeout=5)
        r.raise_for_status()
        return r.json()


# One Chromium for the whole back-office package (each test still gets its own context: cookies, storage): a
# launch with Playwright's driver costs 3-5 s on a loaded machine, once per module before. Not wider than the
# package: between its calls Playwright's sync API marks an asyncio loop as running in this thread.
@pytest.fixture(scope="package")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.on("dialog", lambda dialog: dialog.accept())  # the confirm() before each action
    yield pg
    context.close()


def sign_in(page, server, name: str = OWNER, password: str = PASSWORD) -> None:
    # through the customers page: signing in lands where one was going (/admin/ itself leads to the dashboard)
    page.goto(f"{server.url}/admin/customers")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/customers.*"))


def shoot(page, name: str) -> None:
    """The page at a laptop's and a tablet's size, full length, for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})


def session(server, name: str = OWNER, password: str = PASSWORD) -> requests.Session:
    """A signed-in HTTP session without a browser (for refusals a browser would not even send)."""
    s = requests.Session()
    r = s.get(f"{server.url}/admin/login", timeout=5)
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = s.post(f"{server.url}/admin/login", data={"name": name, "password": password, "csrf": csrf,
                                                  "next": "/admin/customers"}, timeout=10, allow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    return s


def csrf_of(s: requests.Session, url: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', s.get(url, timeout=5).text).group(1)




def go_to(page, label: str) -> None:
    """Follow a section link of the header as a person does: open its group first (a <details> disclosure)."""
    link = page.get_by_role("link", name=label, exact=True, include_hidden=True)  # closed, a group's links are hidden
    if not page.locator("nav.main-nav").locator(link).is_visible():
        page.locator("nav.main-nav details.nav-group", has=link).locator("summary").click()
    page.locator("nav.main-nav").locator(link).click()
