"""The back office's header: the sections in six groups that open as disclosure menus (by mouse, keyboard, and
without JavaScript), the current page marked, one line at a tablet's width in every language, a Menu button on a
phone, and an operator not even sent the links of owner-only pages."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.admin.conftest import OPERATOR, OWNER, SHOTS, go_to, session, sign_in

OWNER_ONLY = ("/admin/import", "/admin/fraud", "/admin/audit", "/admin/devices", "/admin/accounts", "/admin/settings")
EVERYONE = ("/admin/dashboard", "/admin/customers", "/admin/activations", "/admin/journal", "/admin/reports",
            "/admin/rules", "/admin/card-types", "/admin/sms", "/admin/templates")


def nav_links(html: str) -> set[str]:
    nav = re.search(r'<nav class="main-nav".*?</nav>', html, re.S).group(0)
    return set(re.findall(r'href="([^"]+)"', nav))


def test_an_owner_gets_every_section_and_an_operator_no_owner_only_link(server):
    assert nav_links(session(server, OWNER).get(f"{server.url}/admin/journal", timeout=5).text) == {
        *EVERYONE, *OWNER_ONLY}
    html = session(server, OPERATOR).get(f"{server.url}/admin/journal", timeout=5).text
    assert nav_links(html) == set(EVERYONE)
    assert 'summary>Shop<' not in html  # the whole group is left out, not shown empty


def test_the_current_page_and_its_group_are_marked(server):
    owner = session(server, OWNER)
    for path, link in (("/admin/rules", "/admin/rules"), ("/admin/cards/10030", "/admin/customers"),
                       ("/admin/templates/notice_sale/uk", "/admin/templates"),
                       ("/admin/dashboard", "/admin/dashboard")):
        nav = re.search(r'<nav class="main-nav".*?</nav>', owner.get(server.url + path, timeout=5).text, re.S).group(0)
        current = re.findall(r'<a href="([^"]+)" class="[^"]*current[^"]*" aria-current="page"|'
                             r'<a href="([^"]+)" class="section current" aria-current="page"', nav)
        assert [a or b for a, b in current] == [link], (path, current)
        groups = re.findall(r'<details class="nav-group( current)?">\s*<summary>', nav)
        assert groups.count(" current") == (0 if link == "/admin/dashboard" else 1), path


def test_groups_open_by_mouse_and_keyboard_one_at_a_time(server, page):
    sign_in(page, server)
    link = page.get_by_role("link", name="Journal", exact=True, include_hidden=True)
    group = page.locator("details.nav-group", has=link)
    journal, summary = group.locator(link), group.locator("summary")
    expect(journal).to_be_hidden()
    expect(summary).to_have_attribute("aria-expanded", "false")
    summary.focus()
    page.keyboard.press("Enter")
    expect(journal).to_be_visible()
    expect(summary).to_have_attribute("aria-expanded", "true")  # the toggle event comes a moment later
    page.keyboard.press("Escape")  # closes it and leaves the focus on its summary
    expect(journal).to_be_hidden()
    expect(summary).to_have_attribute("aria-expanded", "false")
    expect(summary).to_be_focused()
    page.keyboard.press("Space")
    expect(journal).to_be_visible()
    page.keyboard.press("Tab")  # into the open menu: its first link
    expect(journal).to_be_focused()
    page.locator("details.nav-group summary", has_text="SMS").click()  # another group opens, the first closes
    expect(page.get_by_role("link", name="SMS texts")).to_be_visible()
    expect(journal).to_be_hidden()
    page.locator("main h1").click()  # a click elsewhere closes it
    expect(page.locator("details.nav-group[open]")).to_have_count(0)
    go_to(page, "Journal")
    page.wait_for_url(re.compile(r".*/admin/journal$"))
    expect(page.locator("details.nav-group.current summary")).to_have_text("Journal and reports")
    expect(page.locator("nav.main-nav a[aria-current=page]")).to_have_attribute("href", "/admin/journal")


@pytest.mark.parametrize("lang", ["en", "uk", "ru", "kk", "vi"])
def test_the_header_takes_two_rows_at_a_tablets_width_in_every_language(server, browser, lang):
    context = browser.new_context(viewport={"width": 800, "height": 1000}, locale=lang)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/admin/lang/{lang}?next=/admin/customers")
        sign_in(page, server)
        assert page.locator("html").get_attribute("lang") == lang

        def rows(selector: str) -> set[int]:
            return {round(box["y"]) for box in page.locator(selector).evaluate_all(
                "els => els.map(e => { const r = e.getBoundingClientRect(); return {y: r.y + r.height / 2}; })")}

        assert len(rows("header.top .brand, .who summary")) == 1, lang  # the shop and the account: one row
        assert len(rows("nav.main-nav > a, nav.main-nav > details > summary")) == 1, lang  # the sections: one row
        height = page.locator("header.top").bounding_box()["height"]
        assert height < 100, (lang, height)
    finally:
        context.close()


def test_on_a_phone_the_sections_fold_behind_a_menu_button(server, browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, server)
        toggle = page.get_by_role("button", name="Menu")
        assert toggle.get_attribute("aria-expanded") == "false"
        assert not page.locator("nav.main-nav").is_visible()
        assert page.locator("header.top").bounding_box()["height"] < 100  # the shop's name, then the buttons
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
        page.locator("details.nav-group summary", has_text="Programme").click()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "nav-phone-en-360.png"))
        page.get_by_role("link", name="Rules and tiers").click()
        page.wait_for_url(re.compile(r".*/admin/rules$"))
        assert not page.locator("nav.main-nav").is_visible()  # folded again on the next page
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["uk", "vi"])
def test_on_a_phone_the_shops_name_is_not_cut(server, browser, lang):
    # Beside the Menu button, the language and the account it kept five letters in Ukrainian ("Магаз…").
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale=lang)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/admin/lang/{lang}?next=/admin/customers")
        sign_in(page, server)
        brand = page.locator("header.top .brand")
        assert brand.evaluate("e => e.scrollWidth <= e.clientWidth"), (lang, brand.bounding_box())
        assert brand.get_attribute("title") == brand.inner_text()  # the whole name, should a longer one be cut
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"nav-phone-{lang}-360.png"))
    finally:
        context.close()


def test_without_javascript_every_group_still_opens_and_leads_to_its_page(server, browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, server)
        assert not page.get_by_role("button", name="Menu").is_visible()  # nothing that needs the script
        go_to(page, "Devices")
        page.wait_for_url(re.compile(r".*/admin/devices$"))
        assert page.locator("h1").inner_text() == "Devices"
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "uk"])
def test_screenshots_of_the_header_at_three_widths(server, browser, lang):
    """For a person to look at: a phone, a tablet, a laptop, with the Journal group open."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 500}, locale=lang)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/admin/lang/{lang}?next=/admin/journal")
        sign_in(page, server)
        page.goto(f"{server.url}/admin/journal")
        for width in (360, 800, 1366):
            page.set_viewport_size({"width": width, "height": 500})
            page.reload()
            if width == 360:
                page.locator(".nav-toggle").click()
            page.locator("details.nav-group.current summary").click()
            page.screenshot(path=str(SHOTS / f"nav-{lang}-{width}.png"))
    finally:
        context.close()


def test_an_operator_sent_to_an_owner_page_is_refused(server):
    operator = session(server, OPERATOR)
    for path in OWNER_ONLY:
        assert operator.get(server.url + path, timeout=5).status_code == 403, path
    assert requests.get(f"{server.url}/admin/journal", timeout=5, allow_redirects=False).status_code in (302, 303)
