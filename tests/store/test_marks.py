"""A person's first score for a value the scorer gave none (``Store.mark_score``), beside an
override, and the answers left to mark (``Store.unscored_answers``), on SQLite and PostgreSQL
(see conftest.py)."""

from __future__ import annotations

import pytest

from vbr.errors import ValidationFailed
from vbr.models import Application, Campaign, ReviewFlag


def test_a_first_mark_then_an_override_each_logged_and_indexed(store):
    store.add_campaign(Campaign(id="c1", title="t", rubric_id="r"), "r@1", actor="ats")
    store.add_applications([Application(id="a1", campaign_id="c1"), Application(id="a2", campaign_id="c1")],
                           [("a1", "q1", " ", " ", None), ("a2", "q1", " ", " ", None)])
    empty = ReviewFlag(code="empty", reason="The answer is empty.")
    store.add_scores([], actor="scorer", campaign_id="c1",
                     unscored=[("a1", "q1", [empty], "evidence", "1"), ("a2", "q1", [empty], "evidence", "1")])
    assert [(r["application_id"], [f.code for f in r["flags"]]) for r in store.unscored_answers("c1")] == \
        [("a1", ["empty"]), ("a2", ["empty"])]
    assert [r["application_id"] for r in store.unscored_answers("c1", application_id="a2")] == ["a2"]
    first = store.mark_score("a1", "q1", "care", 0, actor="rec", reason="Nothing written.", rubric_ref="r@1",
                             campaign_id="c1")
    with pytest.raises(ValidationFailed, match="already has a score for 'care'"):
        store.mark_score("a1", "q1", "care", 1, actor="rec", reason="Again, twice.", rubric_ref="r@1",
                         campaign_id="c1")
    with pytest.raises(ValidationFailed, match="reason of at least 5"):
        store.mark_score("a2", "q1", "care", 1, actor="rec", reason="no", rubric_ref="r@1", campaign_id="c1")
    second = store.override_score("a1", "q1", "care", 2, actor="rec2", reason="On a second reading.")
    rows = store.score_history("a1", "q1", "care")
    assert [(r["id"], r["level"], r["source"], r["supersedes"], r["evidence"], r["rubric_ref"]) for r in rows] == [
        (first, 0, "override", None, "[]", "r@1"), (second, 2, "override", first, "[]", "r@1")]
    entries = list(store.log.entries(campaign_id="c1"))
    assert [e.action for e in entries][-2:] == ["score.marked", "score.overridden"]
    assert entries[-2].payload == {"to": 0, "score_id": first} and entries[-1].payload["from"] == 0
    assert store.log.verify().ok
