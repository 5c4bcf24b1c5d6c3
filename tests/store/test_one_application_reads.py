"""Reads about one candidate read only that candidate, and the review overview reads states, not
scores: the same rows as filtering the campaign-wide reads, on both backends."""

from __future__ import annotations

import json

from vbr.models import Application, Campaign, ReviewFlag, Score
from vbr.store import Store


def _score(app: str, q: str, v: str, level: int, flags: tuple[ReviewFlag, ...] = ()) -> Score:
    return Score(application_id=app, question_id=q, value_id=v, level=level, confidence=0.5, flags=flags,
                 scorer_id="evidence", scorer_version="1.0", rubric_ref="nhs-constitution@1.0")


def _campaign(store: Store) -> None:
    for cid in ("c1", "c2"):
        store.add_campaign(Campaign(id=cid, title=cid, rubric_id="nhs-constitution", question_ids=("q1", "q2")),
                           "nhs-constitution@1.0", actor="ats")
    store.add_applications([Application(id=f"a{i}", campaign_id="c1") for i in range(1, 4)],
                           [(f"a{i}", q, f"original {i} {q}", f"redacted {i} {q}", None)
                            for i in range(1, 4) for q in ("q2", "q1")])
    store.add_applications([Application(id="b1", campaign_id="c2")], [("b1", "q1", "other", "other", None)])
    short = ReviewFlag(code="too_short", reason="Only 3 words.")
    store.add_scores([_score(f"a{i}", q, v, i % 5, (short,) if (i, q) == (2, "q1") else ())
                      for i in range(1, 4) for q in ("q1", "q2") for v in ("care", "courage")]
                     + [_score("b1", "q1", "care", 1)], actor="vbr", campaign_id="c1")


def test_one_application_reads_match_the_campaign_reads_filtered(backend):
    store = Store(backend.main_url)
    _campaign(store)
    every = store.current_scores("c1")
    answers = store.responses("c1")
    for app in ("a1", "a2", "a3"):
        assert store.responses("c1", application_id=app) == [r for r in answers if r["application_id"] == app]
        mine = store.current_scores("c1", application_id=app)
        assert mine == [r for r in every if r["application_id"] == app]
        assert [(r["question_id"], r["value_id"]) for r in mine] == [
            ("q1", "care"), ("q1", "courage"), ("q2", "care"), ("q2", "courage")]
    assert [r["redacted_text"] for r in store.responses("c1", application_id="a2")] == ["redacted 2 q1",
                                                                                       "redacted 2 q2"]
    assert (store.application_count("c1"), store.application_count("c2"), store.application_count("none")) == (3, 1, 0)
    # another campaign's application is not read through this campaign
    assert store.responses("c1", application_id="b1") == []
    assert store.current_scores("c1", application_id="b1") == []
    assert store.current_scores("c1", application_id="nobody") == []


def test_score_states_are_the_current_rows_without_the_scores(backend):
    store = Store(backend.main_url)
    _campaign(store)
    store.override_score("a1", "q2", "courage", 4, actor="recruiter", reason="spoke up for the patient")
    states = store.score_states("c1")
    every = store.current_scores("c1")
    assert len(states) == 12
    assert [(s["id"], s["application_id"], s["question_id"], s["value_id"], s["source"]) for s in states] == [
        (r["id"], r["application_id"], r["question_id"], r["value_id"], r["source"]) for r in every]
    overridden = next(s for s in states if (s["application_id"], s["question_id"], s["value_id"])
                      == ("a1", "q2", "courage"))
    assert overridden["source"] == "override"
    flagged = [(s["application_id"], s["question_id"], s["value_id"]) for s in states if json.loads(s["flags"])]
    assert flagged == [("a2", "q1", "care"), ("a2", "q1", "courage")]
    a2_care = next(s for s in states if (s["application_id"], s["question_id"], s["value_id"]) == ("a2", "q1", "care"))
    assert json.loads(a2_care["flags"]) == [{"code": "too_short", "reason": "Only 3 words."}]
    [other] = store.score_states("c2")
    assert {k: v for k, v in other.items() if k != "id"} == {
        "application_id": "b1", "question_id": "q1", "value_id": "care", "source": "scorer", "flags": "[]"}
