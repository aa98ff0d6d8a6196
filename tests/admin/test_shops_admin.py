"""The back office of a chain (issue 19): the journal filters by shop, an operator limited to one shop sees only
that shop's journal, CSV and activations, and the owner's device page makes tokens for a chosen shop. A real
server, accounts and shops made with the CLI, tills speaking the device API, Debian's Chromium."""

from __future__ import annotations

import re
import subprocess

import pytest
import requests

from store_server.messaging import till_activation
from tests.admin.conftest import OWNER, PASSWORD, Till, add_account, shoot, sign_in
from tests.support.cli import run_cli
from tests.support.server import init_demo_server

LIMITED = "ainur"


def cli(server, *args, ok=True) -> subprocess.CompletedProcess:
    proc = run_cli("--config", str(server.config_path), *args)
    assert (proc.returncode == 0) is ok, (proc.stdout, proc.stderr)
    return proc


class ShopTill(Till):
    def __init__(self, server, name: str, shop: str) -> None:
        self.server = server
        enrolled = server.enrol("cashier", name=name, shop=shop)
        self.id = enrolled["device_id"]
        self.headers = {"Authorization": f"Bearer {enrolled['device_key']}"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("chain-admin")).start()
    cli(srv, "shops", "add", "ALA1", "--name", "Almaty", "--timezone", "Asia/Almaty", "--country", "KZ")
    assert add_account(srv, OWNER, "owner").returncode == 0
    assert add_account(srv, LIMITED, "operator").returncode == 0
    cli(srv, "admin", "shops", LIMITED, "ALA1")
    kyiv, almaty = ShopTill(srv, "Kyiv till", "main"), ShopTill(srv, "Almaty till", "ALA1")
    assert kyiv.sale("10011", 5_000, cashier="Oksana")["status"] == "applied"
    assert almaty.sale("10012", 7_000, cashier="Dana")["status"] == "applied"
    yield srv
    srv.stop()


def test_accounts_are_limited_with_the_cli(chain):
    assert f"{LIMITED}\toperator\tshops ALA1" in cli(chain, "admin", "list").stdout
    refused = cli(chain, "admin", "shops", OWNER, "ALA1", ok=False)
    assert "owner" in refused.stderr and "Traceback" not in refused.stderr
    assert "no shop NOPE" in cli(chain, "admin", "shops", LIMITED, "NOPE", ok=False).stderr


def test_an_operator_limited_to_one_shop_sees_only_its_journal(chain, page):
    sign_in(page, chain, LIMITED, PASSWORD)
    page.goto(f"{chain.url}/admin/journal")
    table = page.inner_text("#journal")
    assert "Almaty till" in table and "Dana" in table
    assert "Kyiv till" not in table and "Oksana" not in table
    # asking for the other shop by hand shows nothing of it
    page.goto(f"{chain.url}/admin/journal?shop=main")
    assert "Oksana" not in page.content()
    # the CSV export too
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    csv_text = requests.get(f"{chain.url}/admin/journal.csv", cookies=cookies, timeout=10).text
    assert "Dana" in csv_text and "Oksana" not in csv_text and csv_text.splitlines()[0].endswith(",shop")


def test_the_owner_filters_the_journal_by_shop_and_sees_its_time_zone(chain, page):
    sign_in(page, chain, OWNER, PASSWORD)
    page.goto(f"{chain.url}/admin/journal")
    table = page.inner_text("#journal")
    assert "Oksana" in table and "Dana" in table and "ALA1" in table
    page.select_option("select[name=shop]", "ALA1")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*shop=ALA1.*"))
    assert "Oksana" not in page.inner_text("#journal") and "Dana" in page.inner_text("#journal")
    # the shop's zone as its reader knows it: the city and the offset in force, not the IANA identifier
    assert "Times are the shop's (Almaty (GMT+" in page.inner_text("main") and "Asia/Almaty" not in page.content()
    shoot(page, "journal-by-shop")


def test_the_owner_makes_a_token_for_a_chosen_shop(chain, page):
    sign_in(page, chain, OWNER, PASSWORD)
    page.goto(f"{chain.url}/admin/devices")
    assert "ALA1" in page.inner_text("#devices")
    page.select_option("select[name=role]", "cashier")
    page.select_option("select[name=shop]", "ALA1")
    page.click("text=Create token and QR")
    token = page.inner_text("#enrol-token").strip()
    assert "Shop: ALA1" in page.inner_text("#enrolment")
    shoot(page, "devices-token-for-shop")
    r = requests.post(f"{chain.url}/api/v1/devices/enrol", timeout=5,
                      json={"enrolment_token": token, "name": "new Almaty till", "role": "cashier"})
    assert r.status_code == 200 and r.json()["shop"] == "ALA1"


def test_activations_wait_per_shop_and_an_operator_sees_only_their_shops(chain):
    """`till_activation review` set for the shop `main` only: its till's activation waits, Almaty's binds at
    once; the operator limited to Almaty neither lists nor decides the waiting one."""
    import uuid

    from tests.server.test_till_activation import Till as ActivatingTill

    class At(ActivatingTill):
        def __init__(self, server, shop: str) -> None:
            self.url = f"{server.url}/api/v1"
            dev = server.enrol("cashier", name=f"till {uuid.uuid4().hex[:6]}", shop=shop)
            self.key, self.id = dev["device_key"], dev["device_id"]

    cli(chain, "settings", "set", "--shop", "main", "till_activation", "review")
    waits = At(chain, "main").activate(chain, "+380501239001", "10091")
    assert waits["result"]["pending_review"] is True, waits
    direct = At(chain, "ALA1").activate(chain, "+77011239002", "10092")  # a Kazakh shop texts Kazakh numbers
    assert direct["result"] == {"card_number": "10092"}, direct

    from store_server.data.db import make_engine
    from store_server.errors import NotFound

    engine = make_engine(f"sqlite:///{chain.database}")
    with engine.connect() as conn:
        everyone = till_activation.listing(conn)
        assert [(r["card_number"], r["shop"]) for r in everyone] == [("10091", "main")]
        assert till_activation.listing(conn, shops=["ALA1"]) == []
    with pytest.raises(NotFound):
        till_activation.reject(engine, everyone[0]["id"], by=LIMITED, reason="not mine", shops=["ALA1"])
    till_activation.reject(engine, everyone[0]["id"], by=OWNER, reason="checked by the owner", shops=None)
    engine.dispose()


def test_the_owner_chooses_an_operators_shops_on_the_accounts_page(chain, page):
    sign_in(page, chain, OWNER, PASSWORD)
    page.goto(f"{chain.url}/admin/accounts")
    row = page.locator("#accounts tr", has_text=LIMITED)
    assert row.locator("input[value=ALA1]").is_checked() and not row.locator("input[value=main]").is_checked()
    row.locator("input[value=main]").check()
    row.locator("button", has_text="Save").click()
    page.wait_for_url(re.compile(r".*/admin/accounts.*"))
    assert "The account's shops were saved." in page.content()
    shoot(page, "accounts-shops")
    assert f"{LIMITED}\toperator\tshops ALA1,main" in cli(chain, "admin", "list").stdout
    row = page.locator("#accounts tr", has_text=LIMITED)
    row.locator("input[value=main]").uncheck()
    row.locator("input[value=ALA1]").uncheck()
    row.locator("button", has_text="Save").click()
    page.wait_for_url(re.compile(r".*/admin/accounts.*"))
    assert f"{LIMITED}\toperator\n" in cli(chain, "admin", "list").stdout + "\n"  # none ticked: every shop


def test_the_sms_page_shows_each_messages_shop_and_an_operator_only_their_shops(chain, page):
    """Texts customers sent, each recorded with the shop whose own gateway they reached (inbound_sms.shop), and
    the answers sent for that shop (sms_log.shop): the owner sees and filters them by shop; the operator limited
    to Almaty sees only Almaty's, not the chain's own nor Kyiv's, even asking for them by hand."""
    from store_server.data.db import make_engine
    from store_server.messaging import activation
    from store_server.messaging.sms.base import SendResult

    class Outbox:  # the customers' phones: the remote end a provider would be
        name = "test_provider"

        def __init__(self) -> None:
            self.sent = 0

        def send(self, phone: str, text: str) -> SendResult:
            self.sent += 1
            return SendResult(self.name, f"sms-page-{self.sent}")

    cli(chain, "admin", "shops", LIMITED, "ALA1")  # whatever another test left
    engine = make_engine(f"sqlite:///{chain.database}")
    outbox = Outbox()
    try:
        for sender, text, code in (("+77011239081", "10081", "ALA1"), ("+380501239082", "10082", "main"),
                                   ("+380501239083", "no number here", None)):
            activation.receive(engine, outbox, sender=sender, text=text, source="test_provider", shop_code=code)
    finally:
        engine.dispose()

    sign_in(page, chain, OWNER, PASSWORD)
    page.goto(f"{chain.url}/admin/sms")
    received = page.inner_text("table.inbound")
    assert "+7 ••• ••• •• 81" in received and "+380 •• ••• •• 82" in received and "+380 •• ••• •• 83" in received
    assert "card activated" in received and "no card number in the text" in received and "ALA1" in received
    assert "ALA1" in page.inner_text("table.sms")
    page.select_option("select[name=shop]", "ALA1")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*shop=ALA1.*"))
    received, sent = page.inner_text("table.inbound"), page.inner_text("table.sms")
    assert "+7 ••• ••• •• 81" in received
    assert "+380 •• ••• •• 82" not in received and "+380 •• ••• •• 83" not in received
    assert "+7 ••• ••• •• 81" in sent and "+380 •• ••• •• 82" not in sent
    shoot(page, "sms-by-shop")

    page.context.clear_cookies()
    sign_in(page, chain, LIMITED, PASSWORD)
    for query in ("", "?shop=main"):
        page.goto(f"{chain.url}/admin/sms{query}")
        content = page.content()
        assert "+380 •• ••• •• 82" not in content and "+380 •• ••• •• 83" not in content
        assert ("+7 ••• ••• •• 81" in content) is (query == "")


def test_an_operator_limited_to_one_shop_sees_only_its_figures(chain, page):
    """The dashboard and the reports of an operator limited to Almaty are Almaty's: no "all shops", Kyiv's
    cashier nowhere, even asked for by hand; the owner still sees the whole chain."""
    cli(chain, "admin", "shops", LIMITED, "ALA1")  # whatever another test left
    sign_in(page, chain, OWNER, PASSWORD)
    page.goto(f"{chain.url}/admin/reports?kind=sales&by=cashier")
    table = page.inner_text("main")
    assert "Oksana" in table and "Dana" in table
    page.goto(f"{chain.url}/admin/reports?kind=sales&by=shop")  # grouped by shop: a row for each
    rows = page.inner_text("main table")
    assert "ALA1" in rows and "main" in rows
    page.goto(f"{chain.url}/admin/reports?kind=sales&by=cashier&shop=ALA1")  # one shop's
    assert "Dana" in page.inner_text("main") and "Oksana" not in page.inner_text("main")

    page.context.clear_cookies()
    sign_in(page, chain, LIMITED, PASSWORD)
    for query in ("kind=sales&by=cashier", "kind=sales&by=cashier&shop=main", "kind=sales&by=shop"):
        page.goto(f"{chain.url}/admin/reports?{query}")
        main = page.inner_text("main")
        assert "Oksana" not in main and "Kyiv till" not in main, query
        assert "all shops" not in page.content(), query
    page.goto(f"{chain.url}/admin/reports?kind=sales&by=cashier")
    assert "Dana" in page.inner_text("main")
    assert "Days as the shop counts them (Almaty (GMT+" in page.inner_text("main")  # its own days, its zone
    page.goto(f"{chain.url}/admin/reports?kind=sales&by=device")
    assert "Almaty till" in page.inner_text("main") and "Kyiv till" not in page.inner_text("main")
    page.goto(f"{chain.url}/admin/dashboard?shop=main")
    dashboard = page.inner_text("main")
    assert "Almaty till" in dashboard and "Kyiv till" not in dashboard and "Oksana" not in dashboard
    assert "days as the shop counts them (Almaty (GMT+" in dashboard
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    csv_text = requests.get(f"{chain.url}/admin/reports.csv?kind=sales&by=cashier&shop=main", cookies=cookies,
                            timeout=30).text
    assert "Dana" in csv_text and "Oksana" not in csv_text


def test_the_card_page_shows_and_edits_answers_to_a_shops_own_questions(chain, page):
    """Almaty asks its own question at registration (its questionnaire setting); the customer is the chain's,
    so the owner's card page shows that answer and edits it like the chain's questions."""
    import json

    from sqlalchemy import select

    from store_server import clock
    from store_server.data.db import cards, customer_answers, make_engine, write_transaction
    from store_server.ledger import binding

    melon = {"key": "melon", "label": "Favourite melon", "type": "choice", "choices": ["Torpedo", "Kolkhoznitsa"]}
    cli(chain, "settings", "set", "--shop", "ALA1", "questionnaire", json.dumps([melon]))
    engine = make_engine(f"sqlite:///{chain.database}")
    try:
        with write_transaction(engine) as conn:  # registered at an Almaty till, answering its question
            card = conn.execute(select(cards).where(cards.c.number == "10084")).mappings().one()
            customer_id = binding.bind(conn, dict(card), "+77011239084", {"consent": True, "answers": {
                "melon": "Torpedo"}}, at=clock.now(), questionnaire=[melon])
        sign_in(page, chain, OWNER, PASSWORD)
        page.goto(f"{chain.url}/admin/cards/10084")
        assert "Favourite melon" in page.inner_text("main") and "Torpedo" in page.inner_text("main")
        page.click("#answers summary")
        page.select_option("select[name=answer_melon]", "Kolkhoznitsa")
        page.click("#answers button[type=submit]")
        page.wait_for_selector(".notice.ok")
        with engine.connect() as conn:
            assert conn.execute(select(customer_answers.c.value).where(
                customer_answers.c.customer_id == customer_id, customer_answers.c.field == "melon")).scalar() \
                == "Kolkhoznitsa"
    finally:
        engine.dispose()
        cli(chain, "settings", "reset", "--shop", "ALA1", "questionnaire")
