"""The "Your campaigns" page at a trust's scale: the tenant's campaigns only (never another
tenant's, shown or counted), newest first, 25 a page with a pager, and each campaign's review
progress counted by the database: the same numbers as the review pages' own rule
(``vbr.pages.review.progress``). On SQLite (the ``pages`` fixture) and on PostgreSQL (skipped
without ``VBR_TEST_PG_URL``)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest

from tests.pages.conftest import CAMPAIGN, FakeClock, Pages, pages_plugins, seed
from vbr.models import Campaign, Score
from vbr.pages import review as rv
from vbr.pages.routes import CAMPAIGNS_PAGE

REVIEW = f"/pages/campaigns/{CAMPAIGN}/review"
OLDER = 30  # the tenant's campaigns besides the seeded one (all older than it): 31 in all, two pages
OTHERS = 40  # another tenant's, all newer than any of t1's


def shown(html: str) -> list[str]:
    """The campaign ids on a campaigns page, in page order."""
    return re.findall(r'<p class="meta">([^<]+?) · \d+ applications', html)


def card(html: str, campaign_id: str) -> str:
    cards = [c for c in html.split('<li class="card">')[1:] if f'<p class="meta">{campaign_id} · ' in c]
    assert len(cards) == 1, campaign_id
    return cards[0]


def add_campaigns(engine) -> list[str]:
    """OLDER campaigns of tenant t1 older than the seeded one, newest first, and OTHERS of tenant t2
    newer than all of them (if t2's leaked, they would come first)."""
    seeded = dt.datetime.fromisoformat(engine.store.campaign(CAMPAIGN)["created_at"])
    older = []
    for i in range(1, OLDER + 1):
        cid = f"t1-old-{i:02d}"
        engine.store.add_campaign(Campaign(id=cid, title=f"Older campaign {i}", rubric_id="nhs-constitution",
                                           created_at=seeded - dt.timedelta(days=i)), "nhs-constitution@1",
                                  actor="ats:test", tenant="t1")
        older.append(cid)
    for i in range(OTHERS):
        engine.store.add_campaign(Campaign(id=f"t2-new-{i:02d}", title=f"Other trust {i}", rubric_id="nhs-constitution",
                                           created_at=seeded + dt.timedelta(days=1 + i)), "nhs-constitution@1",
                                  actor="ats:test", tenant="t2")
    return older


def check_paging(pages: Pages) -> None:
    older = add_campaigns(pages.engine)
    newest_first = [CAMPAIGN] + older
    assert len(newest_first) == 31 and CAMPAIGNS_PAGE == 25
    for role in ("recruiter", "equality_officer"):
        pages.sign_in(role)
        one = pages.client.get("/pages/campaigns")
        assert one.status_code == 200
        assert shown(one.text) == newest_first[:25]
        assert "campaigns 1–25 of 31." in one.text and "Page 1 of 2" in one.text
        assert 'href="?page=2" rel="next">Older 25 →' in one.text and 'rel="prev"' not in one.text
        two = pages.client.get("/pages/campaigns?page=2")
        assert shown(two.text) == newest_first[25:] == [f"t1-old-{i}" for i in range(25, 31)]
        assert "campaigns 26–31 of 31." in two.text and "Page 2 of 2" in two.text
        assert 'href="?page=1" rel="prev">← Newer 25' in two.text and 'rel="next"' not in two.text
        assert "t2-" not in one.text + two.text and "Other trust" not in one.text + two.text
        # bad page numbers as the review list takes them: not a number -> 1, kept within the pages
        for raw, page in (("0", 1), ("-4", 1), ("abc", 1), ("", 1), ("1.5", 1), ("3", 2), ("99999999999999999999", 2)):
            r = pages.client.get(f"/pages/campaigns?page={raw}")
            assert r.status_code == 200, raw
            assert shown(r.text) == (newest_first[:25] if page == 1 else newest_first[25:]), raw
            assert f"Page {page} of 2" in r.text, raw
    # the other tenant sees its own 40 and counts only them (none of t1's)
    pages.sign_in("recruiter", tenant="t2")
    theirs = [f"t2-new-{i:02d}" for i in reversed(range(OTHERS))]
    one, two = pages.client.get("/pages/campaigns").text, pages.client.get("/pages/campaigns?page=2").text
    assert shown(one) == theirs[:25] and shown(two) == theirs[25:]
    assert "campaigns 1–25 of 40." in one and "campaigns 26–40 of 40." in two and "Page 2 of 2" in two
    assert CAMPAIGN not in one + two and "t1-old" not in one + two
    for c in theirs[:25]:
        assert "Reviewed 0 of 0 scores" in card(one, c)
    # a tenant with no campaigns: none shown, no pager
    pages.sign_in("recruiter", tenant="t3")
    empty = pages.client.get("/pages/campaigns").text
    assert shown(empty) == [] and "There are no campaigns for your organisation yet." in empty
    assert "Page 1 of" not in empty


def card_form(html: str, n: int = 0) -> dict:
    forms = re.findall(r'<form method="post" class="override-form".*?</form>', html, re.S)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', forms[n]))
    return {k: fields[k] for k in ("csrf", "score_id", "question_id", "value_id")}


def decide(pages: Pages, app_id: str, n: int, **data) -> dict:
    form = card_form(pages.client.get(f"{REVIEW}/{app_id}").text, n)
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, **data}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return form


def check_progress(pages: Pages) -> None:
    engine = pages.engine
    pages.sign_in("recruiter")
    first = card(pages.client.get("/pages/campaigns").text, CAMPAIGN)
    total = len(engine.store.score_states(CAMPAIGN))
    assert total > 10 and f"Reviewed 0 of {total} scores" in first
    app_id = re.findall(r'/review/([\w-]+)"', pages.client.get(REVIEW).text)[0]
    decide(pages, app_id, 0, action="accept")
    decide(pages, app_id, 1, action="override", level="3", reason="Clear example of compassion")
    stale = decide(pages, app_id, 2, action="accept")
    clock = pages.clock
    clock.advance(minutes=5)
    # the scorer scores that answer again: the accepted row is no longer current, its accept lapses
    old = engine.store.score_history(app_id, stale["question_id"], stale["value_id"])[-1]
    engine.store.add_scores([Score(application_id=app_id, question_id=old["question_id"], value_id=old["value_id"],
                                   level=old["level"], confidence=0.9, scorer_id="evidence", scorer_version="2.0",
                                   rubric_ref=old["rubric_ref"])], actor="scorer", campaign_id=CAMPAIGN)
    # another campaign's accept naming this campaign's rows does not count for either
    row = engine.store.score_states(CAMPAIGN)[-1]
    engine.store.log.append("recruiter", rv.ACCEPTED, "score:elsewhere", payload={"campaign": "t1-old-01",
                                                                                  "score_id": row["id"]})
    python = rv.progress(SimpleNamespace(store=engine.store), CAMPAIGN, rv.accepted_rows(engine.store.log, CAMPAIGN))
    assert python == {"done": 2, "total": total, "percent": round(200 / total)}
    page = pages.client.get("/pages/campaigns").text
    assert f"Reviewed 2 of {total} scores" in card(page, CAMPAIGN)
    assert f'<progress max="{total}" value="2"' in card(page, CAMPAIGN)
    assert "Reviewed 0 of 0 scores" in card(page, "t1-old-01")
    # the review list (which counts in Python from the rows it lists) says the same
    assert f"<b>2</b><span>of {total} scores reviewed</span>" in pages.client.get(REVIEW).text
    check_unscored(pages)


def check_unscored(pages: Pages) -> None:
    """An answer the scorer could not score is counted on the campaign's card until a person marks it."""
    from vbr.models import ReviewFlag

    engine = pages.engine
    rubric = engine.rubric("nhs-constitution")
    qid = next(q for q in engine.store.campaign(CAMPAIGN)["question_ids"] if len(rubric.question(q).values) > 1)
    assert "could not score" not in card(pages.client.get("/pages/campaigns").text, CAMPAIGN)
    engine.submit(CAMPAIGN, [{"id": "zz-blank", "campaign_id": CAMPAIGN}],
                  [{"application_id": "zz-blank", "question_id": qid, "text": " "}])
    engine.store.add_scores([], actor="scorer", campaign_id=CAMPAIGN, unscored=[
        ("zz-blank", qid, [ReviewFlag(code="empty", reason="The answer is empty.")], "evidence", "1")])
    assert engine.store.unscored_answer_count(CAMPAIGN) == 1
    assert "1 answer the scorer could not score, waiting for a person to mark" in \
        card(pages.client.get("/pages/campaigns").text, CAMPAIGN)
    values = rubric.question(qid).values
    per_question = {q.id: len(q.values) for q in rubric.questions}
    for i, v in enumerate(values):
        engine.override("zz-blank", qid, v, 0, actor="recruiter", reason="Nothing was written.")
        assert engine.store.unscored_answer_count(CAMPAIGN) == 0  # without the rubric: any score counts
        # with it (as the page asks), the answer waits until every value is marked
        assert engine.store.unscored_answer_count(CAMPAIGN, per_question) == (0 if i == len(values) - 1 else 1)
    assert "could not score" not in card(pages.client.get("/pages/campaigns").text, CAMPAIGN)
    # a value a scorer skipped: scored for one value, flagged for the rest, counted on the card
    engine.submit(CAMPAIGN, [{"id": "zz-part", "campaign_id": CAMPAIGN}],
                  [{"application_id": "zz-part", "question_id": qid, "text": "I would listen to her."}])
    old = engine.store.current_scores(CAMPAIGN)[0]["score"]
    engine.store.add_scores([old.model_copy(update={"application_id": "zz-part", "question_id": qid,
                                                    "value_id": values[0]})],
                            actor="scorer", campaign_id=CAMPAIGN, unscored=[
        ("zz-part", qid, [ReviewFlag(code="scorer_error", reason="The scorer gave no score for one value.")], "plugin", "1")])
    assert engine.store.unscored_answer_count(CAMPAIGN) == 0
    assert engine.store.unscored_answer_count(CAMPAIGN, per_question) == 1
    assert "1 answer the scorer could not score, waiting for a person to mark" in \
        card(pages.client.get("/pages/campaigns").text, CAMPAIGN)


def test_campaigns_page_pages_newest_first_within_the_tenant(pages):
    check_paging(pages)


def test_campaigns_page_progress_counts_what_the_review_pages_count(pages):
    add_campaigns(pages.engine)
    check_progress(pages)


def test_officer_campaigns_page_shows_the_latest_decision(pages):
    add_campaigns(pages.engine)
    pages.sign_in("equality_officer")
    html = pages.client.get("/pages/campaigns").text
    assert "Latest shortlist:" in card(html, CAMPAIGN) and "No audit has been run yet." in card(html, "t1-old-01")
    assert "Reviewed" not in html  # progress is for recruiters


@pytest.fixture
def pg_pages():
    from fastapi.testclient import TestClient

    from tests.pg import fresh_schema
    from vbr.engine import Engine
    from vbr.server.app import Settings, create_app

    with fresh_schema("t_pages_") as schema:
        engine = Engine(schema.main_url, plugins=pages_plugins())
        seed(engine, n=12)
        clock = FakeClock()
        app = create_app(engine, settings=Settings(clock=clock))
        with TestClient(app) as client:
            yield Pages(client, engine, clock, app)


def test_campaigns_page_on_postgres(pg_pages):
    check_paging(pg_pages)
    check_progress(pg_pages)
