"""Both pages and the standalone report in real headless Chromium (see tests/pages/browser.py).

Screenshots of every page go to artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest

from tests.pages.browser import (ARGS, SCREENSHOTS, LiveServer, assert_accessible, chromium_path, shot,
                                 sync_playwright)
from tests.pages.conftest import CAMPAIGN, pages_plugins, seed
from vbr.engine import Engine
from vbr.server.app import Settings, create_app


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    engine = Engine(tmp_path_factory.mktemp("pages") / "vbr.sqlite", plugins=pages_plugins())
    seed(engine)
    seed(engine, "hca-2026", n=12, seed=3, title="Healthcare assistant bank", propose=None)
    app = create_app(engine, settings=Settings())
    keys = {role: app.state.keys.create(role, tenant="t1", actor="test", name=name)[0]
            for role, name in (("recruiter", "Sam Reviewer"), ("equality_officer", "Jo Officer"))}
    with LiveServer(app) as server:
        yield server, engine, keys


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    with sync_playwright()() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def sign_in(page, url: str, key: str) -> None:
    page.goto(f"{url}/pages/sign-in")
    page.get_by_label("Your key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/pages/campaigns$"))


def test_recruiter_reviews_accepts_and_overrides_with_the_keyboard(live, page):
    server, engine, keys = live
    page.goto(f"{server.url}/pages/campaigns")
    assert "/pages/sign-in" in page.url
    assert_accessible(page)
    shot(page, "01-sign-in")
    sign_in(page, server.url, keys["recruiter"])
    shot(page, "02-recruiter-campaigns")
    page.get_by_role("link", name="Band 5 staff nurse, surgical wards").click()
    page.get_by_role("heading", name=re.compile("Review scores")).wait_for()
    assert page.get_by_text("reviewed 0 of").count() >= 1
    assert_accessible(page)
    shot(page, "03-review-list")

    page.get_by_role("link", name="Review the next candidate").click()
    page.wait_for_selector(".score-card")
    body = page.content()
    assert "Smith" not in body and "Patel" not in body  # names are redacted; references only
    assert page.locator("mark.ev").count() > 0  # evidence highlighted in the redacted text
    assert page.locator(".flags").count() > 0  # flagged scores first, in plain words
    assert_accessible(page)
    shot(page, "04-candidate-review")

    # Tab alone reaches the first accept button, and the focus is plainly visible (NHS yellow)
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.hasAttribute('data-accept')"):
            break
    else:
        raise AssertionError("Tab never reached an accept button")
    assert page.evaluate("getComputedStyle(document.activeElement).backgroundColor") == "rgb(255, 235, 59)"
    shot(page, "04b-keyboard-focus", full_page=False)

    # keyboard shortcuts: j moves to the first score, a accepts it
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("j")
    first = page.locator(".score-card").first
    assert first.evaluate("el => el === document.activeElement")
    first_id = first.get_attribute("id")
    page.keyboard.press("a")
    page.get_by_text("Score accepted.").wait_for()
    assert page.locator(f"#{first_id} .status-accepted").count() == 1
    accepted = [e for e in engine.store.log.entries(action="score.accepted")]
    assert len(accepted) == 1 and "Sam Reviewer" in accepted[0].actor

    # c opens "change this score" on the focused card; choose a level and give a reason
    card = page.locator(".score-card:focus")
    card_id = card.get_attribute("id")
    page.keyboard.press("c")
    select = page.locator(f"#{card_id}-level")
    assert select.evaluate("el => el === document.activeElement")
    select.select_option("3")
    page.keyboard.press("Tab")
    page.keyboard.type("Clear example of escalating a safety concern and checking the outcome.")
    shot(page, "05-candidate-override-form", full_page=False)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_text("Score changed.").wait_for()
    assert page.locator(f"#{card_id} .status-override").count() == 1
    overridden = [e for e in engine.store.log.entries(action="score.overridden")]
    assert len(overridden) == 1 and overridden[0].payload["to"] == 3
    assert "escalating a safety concern" in overridden[0].reason
    assert page.get_by_text(re.compile(r"This campaign: reviewed 2 of \d+")).count() == 1
    shot(page, "06-candidate-after-review")

    # four more accepts in quick succession (a, a, a, a): the page warns about rubber-stamping
    assert page.locator("#rubber-stamp").count() == 0
    for _ in range(4):
        if not page.evaluate("!!(document.activeElement.closest('.score-card') || document.body)"
                             ".querySelector('[data-accept]')"):
            with page.expect_navigation():  # this candidate is done: n goes to the next one to review
                page.keyboard.press("n")
            page.keyboard.press("j")
        with page.expect_navigation():
            page.keyboard.press("a")
        page.wait_for_load_state()
    warning = page.locator("#rubber-stamp")
    assert warning.is_visible() and "too fast to be a review" in warning.inner_text()
    fast = [e for e in engine.store.log.entries(action="score.accepted")][-1]
    assert fast.payload["fast_accepts_median_seconds"] is not None
    warning.scroll_into_view_if_needed()
    shot(page, "06b-rubber-stamp-warning", full_page=False)


def test_recruiter_is_refused_the_dashboard(live, page):
    server, engine, keys = live
    sign_in(page, server.url, keys["recruiter"])
    response = page.goto(f"{server.url}/pages/campaigns/{CAMPAIGN}/equality")
    assert response.status == 403
    assert page.get_by_role("heading", name="You do not have access to this page").is_visible()
    assert page.locator("svg.chart").count() == 0
    assert_accessible(page)
    shot(page, "07-recruiter-refused-dashboard")
    refused = [e for e in engine.store.log.entries(action="pages.refused")]
    assert refused and refused[-1].payload["page"] == "equality dashboard" and "Sam Reviewer" in refused[-1].actor


def test_equality_officer_releases_a_held_shortlist_with_a_justification(live, page):
    server, engine, keys = live
    sign_in(page, server.url, keys["equality_officer"])
    shot(page, "08-officer-campaigns")
    page.goto(f"{server.url}/pages/campaigns/hca-2026/equality")
    assert page.get_by_role("heading", name="No audit yet").is_visible()
    assert page.locator("svg.chart").count() == 0
    assert_accessible(page)
    shot(page, "09-dashboard-no-audit")

    page.goto(f"{server.url}/pages/campaigns/{CAMPAIGN}/equality")
    assert page.locator(".tag-held").is_visible()
    chart = page.locator("svg.chart").first
    assert chart.is_visible() and chart.bounding_box()["width"] > 300
    assert page.locator(".verify-ok").is_visible()
    assert_accessible(page)
    shot(page, "10-dashboard-held")
    chart.screenshot(path=str(SCREENSHOTS / "10b-dashboard-chart.png"))
    sid = engine.store.shortlists(CAMPAIGN)[-1]["id"]
    assert not engine.status(sid)["released"]
    page.get_by_label("Justification (required)").fill(
        "Reviewed the figures: the two groups below 0.80 have three applicants each and one more selection "
        "would change the verdict; the shortlist follows the scores.")
    page.get_by_role("button", name="Release the shortlist").click()
    page.get_by_text("The shortlist was released.").wait_for()
    status = engine.status(sid)
    assert status["released"] and "Jo Officer" in status["released_by"]
    assert "one more selection" in status["justification"]
    assert page.locator(".tag-released").is_visible()
    shot(page, "11-dashboard-released")
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="Sign out").is_visible()
    shot(page, "11b-dashboard-print")


def test_standalone_report_opens_offline_with_its_chart(live, browser, tmp_path):
    from vbr.fairness.report import render_html

    _, engine, _ = live
    sid = engine.store.shortlists(CAMPAIGN)[-1]["id"]
    st = engine.status(sid)
    path = tmp_path / "audit-report.html"
    path.write_text(render_html(st["figures"]["audit"], decision=st["decision"], reasons=st["reasons"],
                                title="Band 5 staff nurse: shortlist audit"), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1100, "height": 900}, offline=True)
    requested = []

    def block(route):
        requested.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(?!file:).*"), block)  # anything but the file itself is refused
    page = context.new_page()
    page.goto(path.as_uri())
    chart = page.locator("svg.chart").first
    assert chart.is_visible()
    assert chart.bounding_box()["width"] > 300
    assert page.locator("svg.chart rect").count() >= 3
    assert page.locator("svg.chart line[stroke-dasharray]").count() >= 1  # the 0.80 line
    assert requested == []  # nothing was fetched from the network
    assert_accessible(page)
    shot(page, "12-report-offline")
    page.emulate_media(media="print")
    assert page.locator("svg.chart").first.is_visible()
    shot(page, "13-report-print")
    context.close()


def test_recruiter_marks_an_answer_the_scorer_could_not_score(live, page):
    server, engine, keys = live
    engine.create_campaign("blank-2026", "Porter, night shifts", "nhs-constitution",
                           question_ids=["nhs-compassion-2"], actor="ats:test", tenant="t1")
    engine.submit("blank-2026", [{"id": "bl-1", "campaign_id": "blank-2026", "reference": "PT-0001"}],
                  [{"application_id": "bl-1", "question_id": "nhs-compassion-2", "text": " "}])
    engine.score("blank-2026")
    sign_in(page, server.url, keys["recruiter"])
    page.goto(f"{server.url}/pages/campaigns/blank-2026/review")
    assert page.get_by_text("2 to mark: No answer given").count() == 1
    page.get_by_role("link", name="PT-0001").click()
    cards = page.locator(".score-card")
    assert cards.count() == 2 and page.get_by_text("The scorer could not score this: please mark it").count() == 2
    assert page.locator("[data-accept]").count() == 0  # nothing to accept: a person gives the level
    assert_accessible(page)
    first = cards.first
    card_id = first.get_attribute("id")
    page.locator(f"#{card_id}-level").select_option("0")
    page.locator(f"#{card_id}-reason").fill("No answer was written, so there is nothing to credit.")
    shot(page, "05b-candidate-mark-unscored", full_page=False)
    first.get_by_role("button", name="Save the score").click()
    page.get_by_text("Score saved, with your reason.").wait_for()
    assert page.get_by_text("The scorer could not score this: please mark it").count() == 1
    [marked] = engine.store.log.entries(action="score.marked", campaign_id="blank-2026")
    assert "Sam Reviewer" in marked.actor and marked.payload["to"] == 0
