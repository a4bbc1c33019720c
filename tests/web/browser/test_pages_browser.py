"""The web app in Debian's Chromium: log in, retro from an audit figure, action with a KPI target on
the board and verified after its window, playbook search, lead timeline, English switch, share
link opened logged out, phone layout, and accessibility basics (labels, alt, keyboard)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from tests.web.browser.conftest import Demo, login

pytestmark = [pytest.mark.xdist_group("browser")]


def test_login_lands_on_the_dashboard(page: Any) -> None:
    page.goto("/")
    assert page.url.endswith("/login?next=/")
    login(page)
    assert page.locator("h1").first.inner_text() == "Tableau de bord"
    assert page.locator(".tile").count() >= 5  # the CEO view: six KPIs with their targets
    assert "cible" in page.locator(".tile-note").first.inner_text()


def test_retro_from_an_audit_observation(page: Any) -> None:
    login(page, "camille", "/cycles/1")
    assert page.locator("figure.chart svg").count() >= 1  # charts rendered server-side as SVG
    with page.expect_navigation():
        page.click("form[action='/cycles/1/retro'] button")
    assert re.search(r"/retros/\d+$", page.url)
    page.select_option("#o-figure", "dashboard.median_ttf_hours")
    page.fill("#o-ftext", "TTF trop long")
    with page.expect_navigation():
        page.click("#o-figure >> xpath=ancestor::form//button[@type='submit']")
    card = page.locator("#observations li.card", has_text="TTF trop long")
    assert card.count() == 1 and "chiffre" in card.inner_text()


def test_action_with_kpi_target_on_the_board_then_verified(page: Any, seeded_demo: Demo) -> None:
    login(page, "camille", "/actions")
    start = seeded_demo.period_end + timedelta(days=1)
    end = start + timedelta(days=14)
    page.fill("#a-title", "Alerte sur chaque lead entrant")
    page.select_option("#a-owner", "ines")
    page.fill("#a-due", end.isoformat())
    page.select_option("#a-kpi", "share_within_sla")
    page.fill("#a-baseline", "0,27")
    page.fill("#a-target", "0,3")
    page.fill("#a-ws", start.isoformat())
    page.fill("#a-we", end.isoformat())
    with page.expect_navigation():
        page.click(".action-form button[type=submit]")
    card = page.locator("#col-open ~ ul li.card", has_text="Alerte sur chaque lead entrant")
    assert card.count() == 1
    assert "≥ 0,3" in card.inner_text() and "en retard" in card.inner_text()  # due date passed
    with page.expect_navigation():
        card.locator("form[action$='/verify'] button").click()
    flash = page.locator(".flash").inner_text()
    assert re.search(r"vérifiée : (atteint|manqué|non mesurable)", flash), flash
    verdict = page.locator("li.card", has_text="Alerte sur chaque lead entrant").locator(".badge").all_inner_texts()
    assert any(v in ("atteint", "manqué", "non mesurable") for v in verdict)


def test_playbook_search_updates_the_results(page: Any) -> None:
    login(page, "lucas", "/playbook")
    page.fill("#q", "cadence")
    link = page.locator("#hits a[href='/playbook/smb-inbound-cadence']")
    link.wait_for()  # swapped in by HTMX as the user types
    assert link.count() == 1
    with page.expect_navigation():
        link.click()
    assert page.locator("article.card").count() == 2  # the history: v2 standard, v1 retired


def test_lead_timeline(page: Any, seeded_demo: Demo) -> None:
    login(page, "ines", f"/leads/{seeded_demo.lead_id}")
    assert seeded_demo.lead_id in page.locator("h1").inner_text()
    assert page.locator("ol.timeline li.ev").count() >= 1
    assert page.locator("#h-rules").count() == 1
    page.fill("#n-text", "Rappeler après le salon")
    with page.expect_navigation():
        page.click("form[action='/notes'] button")
    assert page.locator("#notes li.card", has_text="Rappeler après le salon").count() == 1


def test_switch_to_english(page: Any) -> None:
    login(page, "admin", "/actions")
    assert page.locator("h1").inner_text() == "Tableau des actions"
    with page.expect_navigation():
        page.click("a[hreflang='en']")
    assert page.locator("h1").inner_text() == "Action board"
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto("/")
    assert page.locator("h1").first.inner_text() == "Dashboard"


def test_share_link_opens_while_logged_out(page: Any, chromium: Any, app_url: str) -> None:
    login(page, "camille", "/shares")
    with page.expect_navigation():
        page.click("form[action='/shares'] button[type=submit]")
    url = page.locator("#new-share").get_attribute("href")
    assert url and "/share/" in url
    anon = chromium.new_context(locale="en-GB")
    try:
        other = anon.new_page()
        other.goto(url)
        assert "Page partagée en lecture seule" in other.locator("main").inner_text()  # the link's language
        assert other.locator("form[action='/logout']").count() == 0 and other.locator(".tile").count() >= 5
    finally:
        anon.close()


def test_dashboard_fits_a_phone(chromium: Any, app_url: str) -> None:
    ctx = chromium.new_context(base_url=app_url, viewport={"width": 390, "height": 844}, is_mobile=True, locale="fr-FR")
    try:
        pg = ctx.new_page()
        login(pg, "camille", "/actions")
        for path in ("/", "/actions", "/retros/1"):
            pg.goto(path)
            overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, overflow)
    finally:
        ctx.close()


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.id && document.querySelector(`label[for="${el.id}"]`)) && !el.closest('label') && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 120))"""


def test_accessibility_basics_on_the_main_pages(page: Any, seeded_demo: Demo) -> None:
    login(page, "admin")
    for path in ("/", "/?view=cmo", "/?view=sales", "/cycles/1", "/retros/1", "/actions", "/playbook", "/learnings",
                 f"/leads/{seeded_demo.lead_id}", "/data", "/shares", "/experiments"):
        page.goto(path)
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate("[...document.images].filter(i => !i.hasAttribute('alt')).length") == 0, path
        assert page.evaluate("[...document.querySelectorAll('svg')].filter(s => !s.closest('[role=img][aria-label]')).length") == 0, path
        assert page.locator("h1").count() >= 1 and page.locator("html").get_attribute("lang") == "fr"


def _tab_until(page: Any, selector: str, limit: int = 80) -> int:
    target = page.locator(selector).first.element_handle()
    for i in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(t) => document.activeElement === t", target):
            return i
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_reaches_the_main_actions(page: Any) -> None:
    page.goto("/login")
    assert _tab_until(page, "#username") <= 10  # skip link, FR / EN, then the form
    assert _tab_until(page, "#password") == 1
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.fill("#username", "camille")
    page.fill("#password", "levier-demo")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto("/actions")
    _tab_until(page, "#fl-owner")
    _tab_until(page, ".action-form button[type=submit]", limit=400)
