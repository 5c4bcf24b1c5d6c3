"""vbr.Engine end to end: the facade an ATS embeds, and the README's example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vbr.engine import Engine
from vbr.hookspecs import hookimpl
from vbr.errors import GateHeld, NotFound, ValidationFailed
from vbr.models import Decision


@pytest.fixture
def engine(tmp_path):
    return Engine(tmp_path / "e.sqlite")


GOOD = ("A patient's daughter was upset about a delay. I sat with her, listened to her worries and "
        "explained honestly what was happening, then involved her in the plan and checked she understood.")


def _campaign(engine, n=40):
    engine.create_campaign("c1", "Ward 7 HCA", "nhs-constitution", question_ids=["nhs-compassion-1"], actor="ats")
    apps = [{"id": f"a{i:03d}", "campaign_id": "c1"} for i in range(n)]
    answers = [{"application_id": f"a{i:03d}", "question_id": "nhs-compassion-1",
                "text": GOOD if i % 2 else "I would do my job. My name is Jo Bloggs."} for i in range(n)]
    engine.submit("c1", apps, answers, names={f"a{i:03d}": ["Jo Bloggs"] for i in range(n)})
    return apps


def test_names_are_redacted_before_storage_and_scoring(engine):
    _campaign(engine, 4)
    rows = engine.store.responses("c1")
    assert "Jo Bloggs" in rows[0]["original_text"]
    assert "Bloggs" not in rows[0]["redacted_text"] and "[NAME]" in rows[0]["redacted_text"]


def test_scores_carry_evidence_and_override_keeps_history(engine):
    _campaign(engine, 4)
    scores = engine.score("c1")
    strong = [s for s in scores if s.application_id == "a001" and s.value_id == "compassion"][0]
    assert strong.level >= 2 and strong.evidence
    text = engine.store.responses("c1")[1]["redacted_text"]
    for span in strong.evidence:
        assert text[span.start:span.end] == span.text
    engine.override("a001", "nhs-compassion-1", "compassion", 4, actor="rec@trust", reason="specific and reflective")
    history = engine.store.score_history("a001", "nhs-compassion-1", "compassion")
    assert [h["source"] for h in history] == ["scorer", "override"]
    assert history[0]["level"] == strong.level and history[1]["level"] == 4
    assert history[1]["supersedes"] == history[0]["id"]
    entry = list(engine.store.log.entries(action="score.overridden"))[-1]
    assert entry.actor == "rec@trust" and entry.reason == "specific and reflective"
    with pytest.raises(ValidationFailed, match="outside the rubric scale"):
        engine.override("a001", "nhs-compassion-1", "compassion", 9, actor="rec@trust", reason="typo here")


def test_a_person_marks_an_answer_the_scorer_could_not_score(engine):
    engine.create_campaign("c2", "HCA", "nhs-constitution", question_ids=["nhs-compassion-1", "nhs-compassion-2"],
                           actor="ats")
    engine.submit("c2", [{"id": "b1", "campaign_id": "c2"}, {"id": "b2", "campaign_id": "c2"}],
                  [{"application_id": "b1", "question_id": "nhs-compassion-1", "text": "   "},
                   {"application_id": "b1", "question_id": "nhs-compassion-2", "text": GOOD},
                   {"application_id": "b2", "question_id": "nhs-compassion-2", "text": GOOD}])
    engine.score("c2")
    [unscored] = engine.unscored("c2")
    assert (unscored["application_id"], unscored["question_id"]) == ("b1", "nhs-compassion-1")
    assert engine.store.score_history("b1", "nhs-compassion-1", "compassion") == []
    new_id = engine.override("b1", "nhs-compassion-1", "compassion", 0, actor="rec@trust",
                             reason="No answer was written; nothing to credit.")
    [row] = engine.store.score_history("b1", "nhs-compassion-1", "compassion")
    assert (row["id"], row["level"], row["source"], row["created_by"], row["supersedes"]) == \
        (new_id, 0, "override", "rec@trust", None)
    assert row["reason"] == "No answer was written; nothing to credit." and row["evidence"] == "[]"
    [entry] = engine.store.log.entries(action="score.marked", campaign_id="c2")
    assert (entry.actor, entry.subject, entry.payload) == ("rec@trust", "score:b1/nhs-compassion-1/compassion",
                                                           {"to": 0, "score_id": new_id})
    assert engine.store.log.verify().ok
    # a second time it is a change of that score, with its history
    engine.override("b1", "nhs-compassion-1", "compassion", 1, actor="rec2@trust", reason="On reflection, 1.")
    assert [h["level"] for h in engine.store.score_history("b1", "nhs-compassion-1", "compassion")] == [0, 1]
    before = len(list(engine.store.log.entries()))
    with pytest.raises(NotFound, match="does not assess 'courage'"):
        engine.override("b1", "nhs-compassion-1", "courage", 2, actor="r", reason="wrong value")
    with pytest.raises(NotFound, match="does not ask question 'nhs-courage-1'"):
        engine.override("b1", "nhs-courage-1", "compassion", 2, actor="r", reason="wrong question")
    with pytest.raises(NotFound, match="'b2' has no answer to question 'nhs-compassion-1'"):
        engine.override("b2", "nhs-compassion-1", "compassion", 2, actor="r", reason="never answered")
    with pytest.raises(ValidationFailed, match="outside the rubric scale"):
        engine.override("b2", "nhs-compassion-2", "respect-and-dignity", 7, actor="r", reason="typo in level")
    assert len(list(engine.store.log.entries())) == before


def test_submit_rejects_unknown_question_and_stores_nothing(engine):
    _campaign(engine, 2)
    before = len(engine.store.responses("c1"))
    with pytest.raises(ValidationFailed, match="not part of campaign"):
        engine.submit("c1", [{"id": "z1", "campaign_id": "c1"}],
                      [{"application_id": "z1", "question_id": "nhs-compassion-2", "text": "x"}])
    assert len(engine.store.responses("c1")) == before
    assert "z1" not in engine.store.application_ids("c1")


def test_shortlist_goes_through_the_gate(engine):
    apps = _campaign(engine, 40)
    engine.add_equality_records([{"application_id": a["id"], "ethnic_code": "A" if i < 30 else "N"}
                                 for i, a in enumerate(apps)], actor="ats")
    engine.score("c1")
    result = engine.propose_shortlist("c1", top=10, actor="rec@trust")
    assert result.decision in (Decision.PASS, Decision.REVIEW, Decision.BLOCK)
    assert result.application_ids == [a for a, _ in engine.rank("c1")[:10]]
    if result.decision is not Decision.PASS:
        with pytest.raises(GateHeld):
            engine.release(result.shortlist_id, actor="ats-user", role="ats")
        released = engine.release(result.shortlist_id, actor="eo@trust", role="equality_officer",
                                  justification="Reviewed the figures and the scoring evidence in full.")
        assert released == result.application_ids
    assert engine.store.log.verify().ok


def test_readme_python_example_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["ids"] == ["app-1"]


def test_unscored_answers_keep_their_flags(engine):
    engine.create_campaign("c2", "HCA", "nhs-constitution", question_ids=["nhs-compassion-1"], actor="ats")
    engine.submit("c2", [{"id": "e1", "campaign_id": "c2"}, {"id": "e2", "campaign_id": "c2"}],
                  [{"application_id": "e1", "question_id": "nhs-compassion-1", "text": "   "},
                   {"application_id": "e2", "question_id": "nhs-compassion-1", "text": GOOD}])
    scores = engine.score("c2")
    assert {s.application_id for s in scores} == {"e2"}  # no silent zero for the empty answer
    [row] = engine.unscored("c2")
    assert row["application_id"] == "e1" and [f.code for f in row["flags"]] == ["empty"]
    entry = list(engine.store.log.entries(action="scores.added"))[-1]
    assert entry.payload["unscored"] == 1


def test_a_shortlist_is_released_at_most_once(engine):
    from sqlalchemy.exc import IntegrityError as SAIntegrityError

    from vbr.models import ShortlistDecision

    _campaign(engine, 4)
    sid = engine.store.add_shortlist("c1", ["a000"], stage="shortlisted", actor="rec")
    released = ShortlistDecision(campaign_id="c1", decision=Decision.PASS, regime="ugesp", released=True,
                                 released_by="rec")
    engine.store.record_decision(sid, released, actor="rec")
    with pytest.raises(SAIntegrityError):
        engine.store.record_decision(sid, released, actor="someone-else")
    assert sum(d["released"] for d in engine.store.decisions(sid)) == 1
    assert engine.store.log.verify().ok  # the refused release left no log entry behind


def test_a_value_a_scorer_skipped_is_left_for_a_person_to_mark(engine):
    from vbr.scoring.base import ValueScore

    class HalfScorer:  # scores compassion only, though the question also assesses respect and dignity
        id, version = "half", "1"

        def score(self, rubric, question, text):
            return [ValueScore("compassion", 2, 0.9)]

    engine.create_campaign("c3", "HCA", "nhs-constitution", question_ids=["nhs-compassion-2"], actor="ats")
    engine.submit("c3", [{"id": "d1", "campaign_id": "c3"}],
                  [{"application_id": "d1", "question_id": "nhs-compassion-2", "text": GOOD}])
    engine.score("c3", scorer=HalfScorer())
    [todo] = engine.to_mark("c3")
    assert (todo["application_id"], todo["values"], todo["scorer_id"]) == ("d1", ["respect-and-dignity"], "half")
    assert any("gave no score for respect-and-dignity" in f.reason for f in todo["flags"])
    engine.override("d1", "nhs-compassion-2", "respect-and-dignity", 3, actor="rec", reason="Read it myself.")
    assert engine.to_mark("c3") == []


COPY = ("On a night shift an elderly patient was frightened before her operation. I sat with her, listened to "
        "her worries, explained what would happen next and asked the nurse in charge to speak with her too.")


def test_scoring_again_scores_only_new_answers_and_never_undoes_a_persons_score(engine):
    _campaign(engine, 4)
    first = engine.score("c1")
    assert len(first) == 4
    engine.override("a001", "nhs-compassion-1", "compassion", 4, actor="rec", reason="specific and reflective")
    announced = []

    class Listener:
        @hookimpl
        def vbr_scores_ready(self, campaign_id, scores):
            announced.append((campaign_id, len(scores)))

    engine.plugins.pm.register(Listener())
    assert engine.score("c1") == [] and engine.answers_to_score("c1") == []
    assert len(list(engine.store.log.entries(action="scores.added"))) == 1  # nothing new: nothing logged
    assert announced == []  # nor announced to the ATS
    # new applications: only they are scored, and a copy of an earlier answer is found
    engine.submit("c1", [{"id": "a100", "campaign_id": "c1"}, {"id": "a101", "campaign_id": "c1"}],
                  [{"application_id": "a100", "question_id": "nhs-compassion-1", "text": COPY},
                   {"application_id": "a101", "question_id": "nhs-compassion-1", "text": GOOD}])
    assert [r["application_id"] for r in engine.answers_to_score("c1")] == ["a100", "a101"]
    new = engine.score("c1")
    assert sorted(s.application_id for s in new) == ["a100", "a101"] and announced == [("c1", 2)]
    assert len(engine.store.score_history("a000", "nhs-compassion-1", "compassion")) == 1
    dup = next(s for s in new if s.application_id == "a101")
    near = [f for f in dup.flags if f.code == "near_duplicate"]
    assert near and "a001" in near[0].reason and "a003" in near[0].reason  # the earlier answers it copies
    # rescore: every answer again, but the person's score stays the current one
    again = engine.score("c1", rescore=True)
    assert sorted(s.application_id for s in again) == ["a000", "a002", "a003", "a100", "a101"]
    current = {r["application_id"]: (r["level"], r["source"]) for r in engine.store.current_scores("c1")}
    assert current["a001"] == (4, "override")
    assert len(engine.store.score_history("a000", "nhs-compassion-1", "compassion")) == 2


def test_an_answer_the_scorer_failed_on_is_tried_again_by_the_next_run(engine):
    from vbr.scoring.base import ValueScore

    class Flaky:  # fails on its first call for a1, as a scorer whose model file was briefly missing might
        id, version = "flaky", "1"
        calls: list[str] = []

        def score(self, rubric, question, text):
            self.calls.append(text)
            if len(self.calls) == 1:
                raise RuntimeError("model file missing")
            return [ValueScore("compassion", 3, 0.9)]

    engine.create_campaign("c4", "HCA", "nhs-constitution", question_ids=["nhs-compassion-1"], actor="ats")
    engine.submit("c4", [{"id": "e1", "campaign_id": "c4"}, {"id": "e2", "campaign_id": "c4"}],
                  [{"application_id": "e1", "question_id": "nhs-compassion-1", "text": GOOD},
                   {"application_id": "e2", "question_id": "nhs-compassion-1", "text": " "}])
    scorer = Flaky()
    assert engine.score("c4", scorer=scorer) == []
    assert {r["application_id"] for r in engine.to_mark("c4")} == {"e1", "e2"}
    assert [r["application_id"] for r in engine.answers_to_score("c4")] == ["e1"]  # not the empty one
    [again] = engine.score("c4", scorer=scorer)
    assert (again.application_id, again.level) == ("e1", 3)
    assert [r["application_id"] for r in engine.to_mark("c4")] == ["e2"]
    assert engine.answers_to_score("c4") == []
