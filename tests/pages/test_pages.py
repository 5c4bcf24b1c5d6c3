"""The pages with TestClient: sign-in, access, CSRF, stale and double submissions, the rubber-stamp
warning (with the service's injected clock), the no-audit state and the publishable summary."""

from __future__ import annotations

import re

import pytest

from tests.pages.conftest import CAMPAIGN, FakeClock, Pages, make_pages
from vbr.pages import review as rv
from vbr.pages.dashboard import SUPPRESSED, publishable_summary, suppress

REVIEW = f"/pages/campaigns/{CAMPAIGN}/review"
DASH = f"/pages/campaigns/{CAMPAIGN}/equality"


def first_candidate(pages: Pages) -> str:
    return re.findall(r'/review/([\w-]+)"', pages.client.get(REVIEW).text)[0]


def card_form(html: str, n: int = 0) -> dict:
    """The hidden fields of the n-th accept/override form on a candidate page."""
    forms = re.findall(r'<form method="post" class="override-form".*?</form>', html, re.S)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', forms[n]))
    return {k: fields[k] for k in ("csrf", "score_id", "question_id", "value_id")}


# ---------------------------------------------------------------------------- sign-in and sessions


def test_pages_need_sign_in(pages):
    r = pages.client.get(DASH, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/pages/sign-in?next=")


def test_sign_in_sets_a_signed_httponly_strict_cookie(pages):
    r = pages.sign_in("recruiter")
    cookie = r.headers["set-cookie"]
    assert "vbr_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert pages.key("recruiter") not in cookie  # the key itself is never in the cookie
    assert pages.client.get("/pages/campaigns").status_code == 200


def test_a_wrong_key_is_refused_and_a_tampered_cookie_signs_you_out(pages):
    csrf = pages.csrf()
    r = pages.client.post("/pages/sign-in", data={"csrf": csrf, "api_key": "vbr_nothere00000_" + "x" * 43})
    assert r.status_code == 401 and "We could not sign you in" in r.text
    pages.sign_in("recruiter")
    value = pages.client.cookies.get("vbr_session")
    body, mac = value.split(".")
    pages.client.cookies.set("vbr_session", body.replace("A", "B", 1) + "." + mac, path="/pages")
    assert pages.client.get("/pages/campaigns", follow_redirects=False).status_code == 303


def test_a_revoked_key_ends_the_session(pages):
    pages.sign_in("recruiter")
    key_id = pages.key("recruiter").split("_")[1]
    pages.app.state.keys.revoke(key_id, actor="test")
    assert pages.client.get(REVIEW, follow_redirects=False).status_code == 303


def test_sign_in_without_csrf_is_refused(pages):
    r = pages.client.post("/pages/sign-in", data={"api_key": pages.key("recruiter")})
    assert r.status_code == 400 and "This form has expired" in r.text


# ---------------------------------------------------------------------------- access


def test_recruiter_is_refused_equality_pages_and_the_refusal_is_logged(pages):
    pages.sign_in("recruiter")
    for path in (DASH, f"{DASH}/summary.csv", f"{DASH}/report.html"):
        r = pages.client.get(path)
        assert r.status_code == 403, path
        assert "You do not have access" in r.text and "svg" not in r.text and "White" not in r.text
    refused = list(pages.engine.store.log.entries(action="pages.refused"))
    assert len(refused) == 3 and all(e.subject == f"campaign:{CAMPAIGN}" for e in refused)
    assert all(e.payload["role"] == "recruiter" for e in refused)
    r = pages.client.post(f"{DASH}/release", data={"csrf": pages.csrf(REVIEW), "shortlist_id": "1",
                                                   "decision_id": "1", "justification": "x" * 40})
    assert r.status_code == 403
    assert not pages.engine.status(1)["released"]


def test_equality_officer_never_sees_answers(pages):
    pages.sign_in("equality_officer")
    app_id = pages.engine.store.application_ids(CAMPAIGN)[0]
    for path in (REVIEW, f"{REVIEW}/{app_id}"):
        r = pages.client.get(path)
        assert r.status_code == 403 and "never candidates" in r.text
    answer = pages.engine.store.responses(CAMPAIGN)[0]["redacted_text"]
    dash = pages.client.get(DASH)
    assert dash.status_code == 200 and answer[:40] not in dash.text
    assert "REVIEW" in dash.text and "<svg" in dash.text and "0.80" in dash.text


def test_other_tenants_campaigns_are_not_found(pages):
    pages.sign_in("equality_officer", tenant="t2")
    assert pages.client.get(DASH).status_code == 404
    assert CAMPAIGN not in pages.client.get("/pages/campaigns").text


def test_ats_and_admin_have_no_pages(pages):
    for role in ("ats", "admin"):
        pages.sign_in(role)
        assert pages.client.get(REVIEW).status_code == 403
        assert pages.client.get(DASH).status_code == 403


def test_pages_send_a_strict_content_security_policy(pages):
    r = pages.client.get("/pages/sign-in")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert pages.client.get("/pages/static/pages.css").status_code == 200
    assert pages.client.get("/pages/static/../app.py").status_code == 404


# ---------------------------------------------------------------------------- review: accept and override


def test_accept_is_logged_with_who_and_counts_as_reviewed(pages):
    pages.sign_in("recruiter")
    app_id = first_candidate(pages)
    page = pages.client.get(f"{REVIEW}/{app_id}").text
    assert "reviewed 0 of" in page
    form = card_form(page)
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, "action": "accept"}, follow_redirects=False)
    assert r.status_code == 303 and "msg=accepted" in r.headers["location"]
    entries = list(pages.engine.store.log.entries(action="score.accepted"))
    assert len(entries) == 1
    assert entries[0].actor.startswith("recruiter:recruiter one")
    assert entries[0].payload["score_id"] == int(form["score_id"])
    assert "This campaign: reviewed 1 of" in pages.client.get(f"{REVIEW}/{app_id}").text
    # the same form again: no second entry
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, "action": "accept"}, follow_redirects=False)
    assert "msg=already" in r.headers["location"]
    assert len(list(pages.engine.store.log.entries(action="score.accepted"))) == 1


def test_override_needs_a_reason_and_is_logged(pages):
    pages.sign_in("recruiter")
    app_id = first_candidate(pages)
    form = card_form(pages.client.get(f"{REVIEW}/{app_id}").text)
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, "action": "override", "level": "3", "reason": " "})
    assert r.status_code == 422 and "Give a reason for the change" in r.text
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, "action": "override", "level": "9",
                                                       "reason": "Specific example given"})
    assert r.status_code == 422 and "outside the rubric scale" in r.text
    assert not list(pages.engine.store.log.entries(action="score.overridden"))
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, "action": "override", "level": "3",
                                                       "reason": "Specific example given"}, follow_redirects=False)
    assert r.status_code == 303
    history = pages.engine.store.score_history(app_id, form["question_id"], form["value_id"])
    assert [h["source"] for h in history] == ["scorer", "override"]
    assert history[-1]["level"] == 3 and history[-1]["reason"] == "Specific example given"
    assert history[-1]["created_by"].startswith("recruiter:")


def test_a_double_submitted_override_creates_one_override(pages):
    pages.sign_in("recruiter")
    app_id = first_candidate(pages)
    form = card_form(pages.client.get(f"{REVIEW}/{app_id}").text)
    data = {**form, "action": "override", "level": "2", "reason": "Clear example of escalation"}
    first = pages.client.post(f"{REVIEW}/{app_id}", data=data, follow_redirects=False)
    again = pages.client.post(f"{REVIEW}/{app_id}", data=data, follow_redirects=False)
    assert first.status_code == 303
    assert again.status_code == 409 and "This score changed since you opened the page" in again.text
    history = pages.engine.store.score_history(app_id, form["question_id"], form["value_id"])
    assert [h["source"] for h in history] == ["scorer", "override"]


def test_a_stale_form_is_refused_after_someone_else_changed_the_score(pages):
    pages.sign_in("recruiter")
    app_id = first_candidate(pages)
    form = card_form(pages.client.get(f"{REVIEW}/{app_id}").text)
    pages.engine.override(app_id, form["question_id"], form["value_id"], 4, actor="recruiter:other",
                          reason="Second marker's view")
    for action in ({"action": "accept"}, {"action": "override", "level": "1", "reason": "Too generic"}):
        r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, **action})
        assert r.status_code == 409 and "it is now level 4" in r.text
    assert not list(pages.engine.store.log.entries(action="score.accepted"))
    assert len(pages.engine.store.score_history(app_id, form["question_id"], form["value_id"])) == 2


def test_review_forms_need_the_session_csrf_token(pages):
    pages.sign_in("recruiter")
    app_id = first_candidate(pages)
    form = card_form(pages.client.get(f"{REVIEW}/{app_id}").text)
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**form, "csrf": "forged", "action": "accept"})
    assert r.status_code == 400
    no_token = {k: v for k, v in form.items() if k != "csrf"}
    assert pages.client.post(f"{REVIEW}/{app_id}", data={**no_token, "action": "accept"}).status_code == 400
    assert not list(pages.engine.store.log.entries(action="score.accepted"))


def test_candidates_are_shown_by_reference_and_flagged_first(pages):
    pages.sign_in("recruiter")
    listing = pages.client.get(REVIEW).text
    refs = re.findall(r'/review/[\w-]+">(C\d+)</a>', listing)
    assert refs and all(re.fullmatch(r"C\d{5}", r) for r in refs)
    accepted = rv.accepted_rows(pages.engine.store.log, CAMPAIGN)
    summaries = rv.candidate_summaries(pages.engine, CAMPAIGN, accepted)
    flagged = [s["flagged"] > 0 for s in summaries]
    assert flagged == sorted(flagged, reverse=True)
    page = pages.client.get(f"{REVIEW}/{summaries[0]['id']}").text
    assert "Scorer unsure" in page and '<mark class="ev ev-' in page and "Rubric anchor matched" in page
    for name in ("Smith", "Patel", "Okafor", "Kowalski", "Chen"):
        assert f">{name}" not in page and f" {name} " not in page


def test_the_review_list_pages_through_candidates_in_list_order(pages, monkeypatch):
    import vbr.pages.routes as routes

    monkeypatch.setattr(routes, "LIST_PAGE", 15)
    pages.sign_in("recruiter")
    order = [s["id"] for s in rv.candidate_summaries(pages.engine, CAMPAIGN, {})]
    assert len(order) == 40
    shown, captions = [], []
    for page in (1, 2, 3):
        html = pages.client.get(f"{REVIEW}?page={page}").text
        shown += re.findall(r'<th scope="row"><a href="/pages/campaigns/[\w-]+/review/([\w-]+)"', html)
        captions.append(re.search(r"<caption>(.*?)</caption>", html).group(1))
        assert f"Page {page} of 3" in html
        assert ('rel="prev"' in html) == (page > 1) and ('rel="next"' in html) == (page < 3)
        assert "<b>40</b><span>candidates</span>" in html  # the facts count the whole campaign
    assert shown == order  # every candidate once, flagged first, as the candidate pages step through them
    assert captions == ["Candidates (1–15 of 40)", "Candidates (16–30 of 40)", "Candidates (31–40 of 40)"]
    # out-of-range and malformed page numbers show the nearest page, never an error
    assert "Page 3 of 3" in pages.client.get(f"{REVIEW}?page=99").text
    assert "Page 1 of 3" in pages.client.get(f"{REVIEW}?page=0").text
    assert "Page 1 of 3" in pages.client.get(f"{REVIEW}?page=two").text
    monkeypatch.setattr(routes, "LIST_PAGE", 100)
    html = pages.client.get(REVIEW).text
    assert "<caption>Candidates (40)</caption>" in html and "Pages of candidates" not in html


def test_highlight_skips_structured_spans_and_overlaps_and_escapes():
    spans = [
        {"start": 0, "end": 5, "indicator_id": "a", "polarity": "positive", "label": "L1", "key": "q/v", "anchor_id": "x"},
        {"start": 2, "end": 8, "indicator_id": "b", "polarity": "positive", "label": "L2", "key": "q/v", "anchor_id": "x"},
        {"start": 0, "end": 0, "indicator_id": "key:q1", "polarity": "positive", "label": "k", "key": "q/v", "anchor_id": "x"},
        {"start": 10, "end": 13, "indicator_id": "c", "polarity": "positive", "negated": True, "label": "L3",
         "key": "q/v", "anchor_id": "x"},
    ]
    html, notes = rv.highlight("<b>hi</b> and <i>", spans)
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert [n["n"] for n in notes] == [1, 2] and notes[1]["kind"] == "neg" and notes[1]["label"].startswith("Not:")
    assert html.count("<mark") == 2


# ---------------------------------------------------------------------------- rubber-stamping


def test_rubber_stamp_warning_uses_the_injected_clock(pages):
    pages.sign_in("recruiter")
    policy = rv.RubberStampPolicy()
    app_id = first_candidate(pages)

    def accept_next(seconds: float) -> str:
        pages.clock.advance(seconds=seconds)
        page = pages.client.get(f"{REVIEW}/{app_id}").text
        form = dict(re.findall(r'name="(\w+)" value="([^"]*)"',
                               re.search(r'<form method="post" class="accept-form".*?</form>', page, re.S).group(0)))
        pages.client.post(f"{REVIEW}/{app_id}", data=form)
        return pages.client.get(f"{REVIEW}/{app_id}").text

    # slow, careful accepts: no warning
    for _ in range(policy.window):
        page = accept_next(45)
    assert "too fast to be a review" not in page
    # then a run of accepts two seconds apart
    ids = pages.engine.store.application_ids(CAMPAIGN)
    app_id = next(a for a in ids[1:] if a != app_id)
    for _ in range(policy.window - 1):
        page = accept_next(2)
    assert "too fast to be a review" in page and "median of <b>2.0 seconds</b>" in page
    assert "Article 22" in page
    entries = list(pages.engine.store.log.entries(action="score.accepted"))
    assert entries[-1].payload["at"].startswith("2026-03-02T09:0")  # the service clock, not the wall clock
    assert entries[-1].payload["fast_accepts_median_seconds"] == 2.0  # the log records it too
    assert entries[policy.window - 1].payload["fast_accepts_median_seconds"] is None


def test_fast_accepts_needs_a_full_window():
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    policy = rv.RubberStampPolicy(window=4, min_seconds=10)
    assert rv.fast_accepts([t0 + dt.timedelta(seconds=i) for i in range(3)], policy) is None
    warn = rv.fast_accepts([t0 + dt.timedelta(seconds=3 * i) for i in range(4)], policy)
    assert warn == {"count": 4, "median_seconds": 3.0, "min_seconds": 10}
    assert rv.fast_accepts([t0 + dt.timedelta(seconds=30 * i) for i in range(6)], policy) is None


# ---------------------------------------------------------------------------- dashboard and release


def test_no_audit_yet_says_so(tmp_path):
    from fastapi.testclient import TestClient

    app, engine = make_pages(tmp_path, FakeClock(), propose=None)
    with TestClient(app) as client:
        pages = Pages(client, engine, FakeClock(), app)
        pages.sign_in("equality_officer")
        r = client.get(DASH)
        assert r.status_code == 200 and "No audit yet" in r.text and "<svg" not in r.text
        assert client.get(f"{DASH}/summary.csv").status_code == 404


def test_release_needs_a_justification_and_a_double_submit_releases_once(pages):
    pages.sign_in("equality_officer")
    page = pages.client.get(DASH).text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"',
                             re.search(r'action="[^"]*/release".*?</form>', page, re.S).group(0)))
    r = pages.client.post(f"{DASH}/release", data={**fields, "justification": "ok"})
    assert r.status_code == 422 and "justification of at least 20 characters" in r.text
    assert not pages.engine.status(1)["released"]
    data = {**fields, "justification": "Small groups only; reviewed with HR, shortlist follows the scores."}
    r = pages.client.post(f"{DASH}/release", data=data, follow_redirects=False)
    assert r.status_code == 303
    again = pages.client.post(f"{DASH}/release", data=data)
    assert again.status_code == 409 and "already released" in again.text
    rows = [h for h in pages.engine.status(1)["history"] if h["released"]]
    assert len(rows) == 1 and rows[0]["released_by"].startswith("equality_officer:")
    assert len(list(pages.engine.store.log.entries(action="shortlist.released"))) == 1
    assert "Log intact" in pages.client.get(DASH).text


def test_release_form_of_an_older_decision_is_stale(pages):
    pages.sign_in("equality_officer")
    page = pages.client.get(DASH).text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"',
                             re.search(r'action="[^"]*/release".*?</form>', page, re.S).group(0)))
    pages.engine.gate.evaluate(1, actor="ats:test")  # the gate decides again
    r = pages.client.post(f"{DASH}/release", data={**fields, "justification": "x" * 40})
    assert r.status_code == 409 and "changed since you opened the page" in r.text
    assert not pages.engine.status(1)["released"]


def test_summary_csv_is_suppressed_and_logged(pages):
    pages.sign_in("equality_officer")
    r = pages.client.get(f"{DASH}/summary.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = [line.split(",") for line in r.text.splitlines() if line and not line.startswith('"')]
    for row in rows[1:]:
        for cell in row[1:3]:
            assert cell == SUPPRESSED or int(cell) >= 5
    assert list(pages.engine.store.log.entries(action="pages.summary_exported"))


def test_report_download_is_the_standalone_report(pages):
    pages.sign_in("equality_officer")
    r = pages.client.get(f"{DASH}/report.html")
    assert r.status_code == 200 and "<svg" in r.text and "@media print" in r.text
    assert "http://" not in r.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in r.text and "<script" not in r.text


# ---------------------------------------------------------------------------- suppression


def test_primary_and_secondary_suppression():
    table = {"A": {"applied": 50, "short": 20}, "B": {"applied": 30, "short": 3},
             "C": {"applied": 12, "short": 6}, "U": {"applied": 8, "short": 7}}
    hidden, total_hidden = suppress(table, ["applied", "short"])
    assert ("B", "short") in hidden  # primary: under 5
    assert ("C", "short") in hidden  # secondary: the smallest other cell of the column
    assert not any(s == "applied" for _, s in hidden)
    assert total_hidden == {"applied": False, "short": False}


def test_suppression_protects_a_lone_cell_and_tiny_totals():
    hidden, total_hidden = suppress({"A": {"s": 3}}, ["s"])
    assert hidden == {("A", "s")} and total_hidden["s"] is True
    hidden, _ = suppress({"A": {"s": 10}, "B": {"s": 2}}, ["s"])
    assert hidden == {("A", "s"), ("B", "s")}


@pytest.mark.parametrize("n", [5, 4, 0])
def test_no_suppressed_cell_can_be_derived_from_the_totals(n):
    table = {"A": {"s": 40}, "B": {"s": n}, "C": {"s": 9}, "D": {"s": 25}}
    hidden, total_hidden = suppress(table, ["s"])
    in_col = [g for g in table if (g, "s") in hidden]
    assert len(in_col) != 1
    assert (n < 5) == (("B", "s") in hidden)


def test_publishable_summary_withholds_rates_that_use_a_hidden_count():
    audit = {"counts": {"stages": ["applied", "shortlisted"],
                        "reached": [{"A": [40, 12], "H": [20, 3], "N": [15, 6], "Unknown": [4, 1]}]},
             "results": [{"reference": "A", "groups": [{"group": "A", "label": "White - British"},
                                                       {"group": "H", "label": "Indian"},
                                                       {"group": "N", "label": "African"}]}]}
    s = publishable_summary(audit)
    rows = {r["group"]: r for r in s["rows"]}
    assert rows["Indian"]["cells"] == ["20", SUPPRESSED] and rows["Indian"]["rates"] == [SUPPRESSED]
    assert rows["Unknown / not stated"]["cells"] == [SUPPRESSED, SUPPRESSED]
    assert rows["White - British"]["rates"] == ["30.0%"] and rows["White - British"]["ratios"] == ["1.00"]
    # shortlisted column: H (3) and Unknown (1) primary; applied: Unknown (4) primary, so secondary on H (20)
    assert rows["Indian"]["cells"][0] == "20" or rows["Indian"]["cells"][0] == SUPPRESSED
    assert s["totals"] == ["79", "22"]
    applied_hidden = [r for r in s["rows"] if r["cells"][0] == SUPPRESSED]
    assert len(applied_hidden) >= 2


# ---------------------------------------------------------------------------- wiring


def test_the_plugin_mounts_the_pages_once(pages):
    import vbr.pages.plugin

    n = len(pages.app.router.routes)
    vbr.pages.plugin.vbr_register_routes(app=pages.app)
    assert len(pages.app.router.routes) == n
    assert pages.client.get("/pages/sign-in").status_code == 200
    assert not any(p.startswith("/pages") for p in pages.client.get("/v1/openapi.json").json()["paths"])


def test_browser_tests_fail_with_instructions_when_chromium_is_missing(monkeypatch):
    import shutil

    from tests.pages import browser

    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="run scripts/chromium.sh"):
        browser.chromium_path()


def test_answers_that_cannot_be_trusted_come_before_those_the_scorer_is_unsure_of(pages):
    """Near-duplicate, too-short ... answers first, then low-confidence-only, then unflagged; the
    same order on the page, and each group by reference."""
    summaries = rv.candidate_summaries(pages.engine, CAMPAIGN, {})
    ranks = [rv.list_rank(s["flags"]) for s in summaries]
    assert ranks == sorted(ranks)
    unsure = rv.FLAG_WORDS["low_confidence"]
    firm = [s for s in summaries if set(s["flags"]) - {unsure}]
    only_unsure = [s for s in summaries if set(s["flags"]) == {unsure}]
    assert firm and only_unsure  # the seeded campaign has both kinds (its near-duplicate answers)
    assert summaries[:len(firm)] == firm
    assert summaries[len(firm):len(firm) + len(only_unsure)] == only_unsure
    for group in (firm, only_unsure):
        assert [s["ref"] for s in group] == sorted(s["ref"] for s in group)
    assert rv.list_rank([]) == 2 and rv.list_rank([unsure]) == 1
    assert rv.list_rank([unsure, rv.FLAG_WORDS["too_short"]]) == 0
    pages.sign_in("recruiter")
    listing = pages.client.get(REVIEW).text
    assert re.findall(r'/review/([\w-]+)">C\d+</a>', listing) == [s["id"] for s in summaries]


def _unscorable_candidate(pages: Pages) -> tuple[str, str]:
    """A candidate whose first answer is blank (the scorer gives it no score), added and scored."""
    engine = pages.engine
    campaign = engine.store.campaign(CAMPAIGN)
    qid = list(campaign["question_ids"])[0]
    engine.submit(CAMPAIGN, [{"id": "zz-blank", "campaign_id": CAMPAIGN, "reference": "ZZ-0001"}],
                  [{"application_id": "zz-blank", "question_id": qid, "text": "   "}])
    engine.score(CAMPAIGN)
    return "zz-blank", qid


def test_an_answer_the_scorer_could_not_score_is_listed_first_and_a_person_marks_it(pages):
    app_id, qid = _unscorable_candidate(pages)
    _, rubric = pages.engine.campaign_rubric(CAMPAIGN)
    values = rubric.question(qid).values
    pages.sign_in("recruiter")
    [row] = [s for s in rv.candidate_summaries(pages.engine, CAMPAIGN, {}) if s["id"] == app_id]
    assert (row["scores"], row["unmarked"], row["done"]) == (0, len(values), False)
    assert row["flags"] == ["No answer given"] and rv.list_rank(row["flags"]) == 0
    listing = pages.client.get(REVIEW).text
    assert re.search(r"ZZ-0001</a></th>\s*<td>.*?%d to mark: No answer given" % len(values), listing)
    assert "values the scorer could not score, for a person to mark" in listing
    page = pages.client.get(f"{REVIEW}/{app_id}").text
    assert page.count("The scorer could not score this: please mark it") == len(values)
    assert "Mark this answer" in page and "Choose a level" in page and "No answer given" in page
    form = card_form(page)
    assert (form["score_id"], form["question_id"], form["value_id"]) == ("", qid, values[0])
    data = {**form, "action": "override", "reason": "Nothing written"}
    r = pages.client.post(f"{REVIEW}/{app_id}", data=data)
    assert r.status_code == 422 and "Choose the level you are giving" in r.text
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**data, "level": "0"}, follow_redirects=False)
    assert r.status_code == 303 and "msg=marked" in r.headers["location"]
    [mark] = pages.engine.store.score_history(app_id, qid, values[0])
    assert (mark["level"], mark["source"], mark["reason"]) == (0, "override", "Nothing written")
    assert mark["created_by"].startswith("recruiter:")
    [entry] = pages.engine.store.log.entries(action="score.marked", campaign_id=CAMPAIGN)
    assert entry.subject == f"score:{app_id}/{qid}/{values[0]}"
    from vbr.pages.dashboard import campaign_log

    newest = campaign_log(pages.engine, CAMPAIGN, [])[0]  # the equality officer's view of the log
    assert (newest["words"], newest["subject"]) == ("Score given by a person (scorer gave none)", entry.subject)
    # the same form again: someone has marked it since, so it is refused, not a second first score
    again = pages.client.post(f"{REVIEW}/{app_id}", data={**data, "level": "1"})
    assert again.status_code == 409 and "This score changed since you opened the page" in again.text
    assert len(pages.engine.store.score_history(app_id, qid, values[0])) == 1
    page = pages.client.get(f"{REVIEW}/{app_id}").text
    assert page.count("The scorer could not score this: please mark it") == len(values) - 1
    # a value the question does not assess cannot be given a first score
    r = pages.client.post(f"{REVIEW}/{app_id}", data={**data, "value_id": "no-such-value", "level": "2"})
    assert r.status_code == 404
    for v in values[1:]:
        f = next(card_form(page, i) for i in range(len(values)) if card_form(page, i)["value_id"] == v)
        r = pages.client.post(f"{REVIEW}/{app_id}", data={**f, "action": "override", "level": "0",
                                                           "reason": "Nothing written"}, follow_redirects=False)
        assert r.status_code == 303
    [row] = [s for s in rv.candidate_summaries(pages.engine, CAMPAIGN, {}) if s["id"] == app_id]
    assert (row["scores"], row["reviewed"], row["unmarked"], row["done"]) == (len(values), len(values), 0, True)


def test_the_change_form_starts_at_the_current_level(pages):
    pages.sign_in("recruiter")
    app_id = first_candidate(pages)
    page = pages.client.get(f"{REVIEW}/{app_id}").text
    form = card_form(page)
    current = rv.current_row(pages.engine, app_id, form["question_id"], form["value_id"])["level"]
    first = re.findall(r'<form method="post" class="override-form".*?</form>', page, re.S)[0]
    assert re.findall(r'<option value="(\d)" selected>', first) == [str(current)]


def test_each_score_says_what_scored_it():
    assert rv.scorer_words("evidence", "1.0.0") == "the rubric's indicators found in the answer (evidence scorer)"
    assert rv.scorer_words("learned", "90af76d1d4bd") == \
        "a model trained on your organisation's marked answers (model 90af76d1d4bd)"
    assert rv.scorer_words("acme-llm", "3") == "the 'acme-llm' scorer"


def test_the_candidate_page_names_the_scorer(pages):
    pages.sign_in("recruiter")
    page = pages.client.get(f"{REVIEW}/{first_candidate(pages)}").text
    assert "Scored by the rubric&#39;s indicators found in the answer (evidence scorer); confidence" in page
