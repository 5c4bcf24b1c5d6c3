"""The scoring pipeline: redaction first, free text and structured items, flags, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from vbr.models import (MAX_ANSWER_CHARS, ChooseKey, FreeTextKey, Indicator, Question, QuestionType,
                        RankingKey, RatingKey, Response, Rubric, Scale, ScaleLevel, Score, Value)
from vbr.scoring.base import ValueScore
from vbr.scoring.evidence import EvidenceScorer
from vbr.scoring.pipeline import ScoredAnswer, score_answers
from vbr.scoring.redaction import default_redactors


def _rubric() -> Rubric:
    levels = tuple(ScaleLevel(level=i, label=f"L{i}", anchor=f"Anchor text for level {i}.") for i in range(5))
    ind = lambda i, pol, *ph: Indicator(id=i, polarity=pol, text=f"indicator {i}", phrases=ph)  # noqa: E731
    values = (
        Value(id="compassion", name="Compassion", description="Kindness to a patient in distress or pain.",
              indicators=(ind("c-listen", "positive", "listen"), ind("c-time", "positive", "sat with"),
                          ind("c-reassure", "positive", "reassur"), ind("c-anx", "positive", "anxious"),
                          ind("c-ignore", "negative", "ignore"))),
        Value(id="courage", name="Courage", description="Speaking up about patient safety concerns.",
              indicators=(ind("k-esc", "positive", "escalat", "nurse in charge"),
                          ind("k-quiet", "negative", "kept quiet"))),
    )
    qs = (
        Question(id="free", type=QuestionType.free_text,
                 text="Tell us about a time you cared for a patient who was anxious or in distress.",
                 values=("compassion", "courage"), strong_answer_notes="Sits with, listens, reassures, escalates.",
                 key=FreeTextKey(strong_answer="I sat with the anxious patient and listened, then told the nurse in charge.")),
        Question(id="rank", type=QuestionType.sjt_ranking, text="Rank these responses to the scenario.",
                 values=("courage",), strong_answer_notes="Escalating first is best.",
                 options={o: f"option {o}" for o in "abcde"},
                 key=RankingKey(ranks={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})),
        Question(id="choose", type=QuestionType.sjt_choose, text="Choose the three most appropriate actions.",
                 values=("courage",), strong_answer_notes="a, c and f.",
                 options={o: f"option {o}" for o in "abcdefgh"}, key=ChooseKey(k=3, correct=("a", "c", "f"))),
        Question(id="rate", type=QuestionType.rating, text="How appropriate is this response (1-4)?",
                 values=("compassion",), strong_answer_notes="Quite appropriate.",
                 key=RatingKey(key=3, credit_by_distance=(4, 2)), rating_scale=(1, 4)),
    )
    return Rubric(id="pipe", name="P", version="1.2", framework="t", description="test",
                  scale=Scale(levels=levels), values=values, questions=qs)


R = _rubric()
S = EvidenceScorer()
GOOD = ("On a night shift an elderly patient on our ward was anxious and kept calling out. I sat with her, "
        "listened to her fears about the operation and reassured her. I asked the nurse in charge about her "
        "pain relief and checked on her again an hour later, when she was asleep.")


def resp(app="a1", q="free", **kw) -> Response:
    return Response(application_id=app, question_id=q, **kw)


class SpyScorer:
    id = "spy"
    version = "0"

    def __init__(self):
        self.seen: list[str] = []

    def score(self, rubric, question, text):
        self.seen.append(text)
        return [ValueScore(v, 2, 0.9) for v in question.values]


def test_free_text_end_to_end_with_evidence_anchor_and_refs():
    [r] = score_answers(R, [resp(text=GOOD)], S, None)
    assert isinstance(r, ScoredAnswer) and r.original_text == GOOD and r.redacted_text == GOOD
    assert [s.value_id for s in r.scores] == ["compassion", "courage"]
    comp = r.scores[0]
    assert isinstance(comp, Score)
    assert comp.scorer_id == "evidence" and comp.scorer_version == S.version and comp.rubric_ref == "pipe@1.2"
    assert comp.level >= 3 and comp.anchor == f"Anchor text for level {comp.level}."
    for e in comp.evidence:
        assert r.redacted_text[e.start:e.end] == e.text
    assert r.to_dict()["scores"][0]["value_id"] == "compassion"


def test_scorer_only_ever_sees_redacted_text():
    spy = SpyScorer()
    text = ("My name is Joanna Kowalska (joanna.k@example.com, 07700 900123). " + GOOD +
            " I told Dr Okafor and Mrs Chen. NHS number 943 476 5919, I live at 12 Acacia Avenue, LS1 4AB.")
    [r] = score_answers(R, [resp(app="app-9", text=text)], spy, default_redactors(),
                        names_by_application={"app-9": ["Joanna Kowalska"]})
    seen = spy.seen[0]
    for secret in ["Joanna", "Kowalska", "joanna.k@", "07700", "Okafor", "Chen", "943 476", "Acacia", "LS1"]:
        assert secret not in seen
        assert secret in r.original_text
    assert seen == r.redacted_text
    assert r.redaction_counts["NAME"] >= 3 and r.redaction_counts["EMAIL"] == 1


def test_structured_items_score_with_arithmetic_as_evidence():
    items = [resp(q="rank", ranking={"a": 1, "b": 2, "c": 3, "d": 5, "e": 4}),
             resp(q="choose", choices=("a", "c", "f", "b")),
             resp(q="rate", rating=2)]
    rank, choose, rate = score_answers(R, items, S, None)
    assert rank.structured.raw == 18 and rank.scores[0].level == 4  # 18/20 × 4 = 3.6
    assert rank.scores[0].scorer_id == "structured" and rank.scores[0].confidence == 1.0
    assert "18/20" in rank.scores[0].evidence[0].text
    assert choose.structured.raw == 0 and choose.scores[0].level == 0
    assert rate.structured.raw == 2 and rate.scores[0].level == 2
    assert rank.scores[0].anchor == "Anchor text for level 4."


def test_missing_rating_is_zero_with_a_flag_not_silent():
    [r] = score_answers(R, [resp(q="rate")], S, None)
    assert r.scores[0].level == 0 and "empty" in r.flag_codes and r.needs_review


def test_bad_structured_answer_is_flagged_and_the_batch_goes_on():
    items = [resp(q="choose", choices=("zz",)), resp(app="a2", text=GOOD)]
    bad, good = score_answers(R, items, S, None)
    assert bad.flag_codes == ("scorer_error",) and "'zz'" in bad.flags[0].reason and not bad.scores
    assert good.scores


@pytest.mark.parametrize("text", ["", "   \n ", None])
def test_empty_answers_are_flagged_not_scored(text):
    [r] = score_answers(R, [resp(text=text)], S, None)
    assert r.flag_codes == ("empty",) and r.scores == ()


def test_short_answers_are_scored_and_flagged():
    [r] = score_answers(R, [resp(text="I sat with her and listened.")], S, None)
    assert r.scores and "too_short" in r.flag_codes
    assert all(any(f.code == "too_short" for f in s.flags) for s in r.scores)


def test_50kb_answer():
    text = (GOOD + " ") * (MAX_ANSWER_CHARS // (len(GOOD) + 1))
    assert len(text) <= MAX_ANSWER_CHARS
    [r] = score_answers(R, [resp(text=text)], S, None)
    assert r.scores and "too_long" in r.flag_codes


class BrokenScorer:
    id = "broken"
    version = "1"

    def score(self, rubric, question, text):
        if "boom" in text:
            raise RuntimeError("model file missing")
        if "wild" in text:
            return [ValueScore("compassion", 9, 0.5), ValueScore("nonsense", 1, 0.5)]
        return [ValueScore(v, 1, 0.9) for v in question.values]


def test_scorer_errors_become_flags_never_crashes():
    items = [resp(app="x1", text=GOOD + " boom"), resp(app="x2", text=GOOD + " wild"), resp(app="x3", text=GOOD),
             {"application_id": "x4", "question_id": "free", "text": GOOD, "ethnicity": "Z"},
             resp(app="x5", q="no-such-question", text=GOOD)]
    out = score_answers(R, items, BrokenScorer(), None, campaign_flags=False)
    assert [r.application_id for r in out] == ["x1", "x2", "x3", "x4", "x5"]
    assert "scorer_error" in out[0].flag_codes and "model file missing" in out[0].flags[-1].reason
    assert not out[0].scores
    reasons = " ".join(f.reason for f in out[1].flags)
    assert "outside the rubric's 0-4 scale" in reasons and "nonsense" in reasons and "courage" in reasons
    assert not out[1].scores
    assert [s.value_id for s in out[2].scores] == ["compassion", "courage"]
    assert out[3].flag_codes == ("scorer_error",) and "malformed" in out[3].flags[0].reason
    assert out[4].flag_codes == ("scorer_error",) and "does not have" in out[4].flags[0].reason


def test_redactor_failure_means_no_scoring():
    class BadRedactor:
        id = "bad"
        order = 1

        def redact(self, text, names=()):
            raise ValueError("regex exploded")

    spy = SpyScorer()
    [r] = score_answers(R, [resp(text=GOOD)], spy, [BadRedactor()])
    assert spy.seen == [] and r.redacted_text is None and r.flag_codes == ("scorer_error",)


def test_low_confidence_flag_per_value():
    [r] = score_answers(R, [resp(text="The car park was full and the weather was grey. " * 4)], S, None)
    assert "low_confidence" in r.flag_codes
    assert all(any(f.code == "low_confidence" for f in s.flags) for s in r.scores)


def test_near_duplicates_across_the_campaign():
    other = ("During my placement a man with dementia became distressed at night, so I sat with him, talked "
             "about his garden, found his glasses and made him a cup of tea until he settled and slept.")
    items = [resp(app="a1", text=GOOD), resp(app="a2", text=GOOD.replace("night shift", "late shift")),
             resp(app="a3", text=other)]
    out = score_answers(R, items, S, None)
    assert "near_duplicate" in out[0].flag_codes and "near_duplicate" in out[1].flag_codes
    assert "near_duplicate" not in out[2].flag_codes
    assert "a2" in next(f.reason for f in out[0].flags if f.code == "near_duplicate")
    assert all(any(f.code == "near_duplicate" for f in s.flags) for s in out[0].scores)
    off = score_answers(R, items, S, None, campaign_flags=False)
    assert all("near_duplicate" not in r.flag_codes for r in off)


def test_progress_callback_and_names_by_application():
    seen = []
    items = [resp(app=f"a{i}", text=f"{GOOD} Priya Sharma.") for i in range(5)]
    out = score_answers(R, items, S, None, names_by_application={"a0": "Priya Sharma"}, progress=seen.append,
                        campaign_flags=False)
    assert seen == [1, 2, 3, 4, 5]
    assert "Priya" not in out[0].redacted_text
    # a bare name with no title or cue is only found when the ATS passes it: pass names
    assert "Priya" in out[1].redacted_text


def test_question_pairs_and_mapping_lookup():
    extra = Question(id="extra", type=QuestionType.free_text, text="Describe a time you spoke up for safety.",
                     values=("courage",), strong_answer_notes="Escalated to the nurse in charge.")
    a = score_answers(R, [(resp(q="extra", text=GOOD), extra)], S, None)
    b = score_answers(R, [resp(q="extra", text=GOOD)], S, None, questions={"extra": extra})
    assert [s.value_id for s in a[0].scores] == ["courage"] == [s.value_id for s in b[0].scores]


BUILTIN = Path(__file__).resolve().parents[2] / "rubrics"


@pytest.mark.skipif(not (BUILTIN / "6cs.yaml").exists(), reason="built-in rubric not there yet")
def test_builtin_rubric_every_question_type():
    from vbr.rubrics import load_rubric_file

    rubric = load_rubric_file(BUILTIN / "6cs.yaml")
    items = []
    for q in rubric.questions:
        if q.type is QuestionType.free_text:
            items.append(resp(q=q.id, text=GOOD))
        elif q.type is QuestionType.sjt_ranking:
            items.append(resp(q=q.id, ranking=dict(q.key.ranks)))
        elif q.type is QuestionType.sjt_choose:
            items.append(resp(q=q.id, choices=tuple(q.key.correct)))
        else:
            items.append(resp(q=q.id, rating=q.key.key))
    out = score_answers(rubric, items, S, None)
    assert len(out) == len(rubric.questions)
    for r, q in zip(out, rubric.questions):
        assert "scorer_error" not in r.flag_codes, r.flags
        if q.type is not QuestionType.free_text:
            assert all(s.level == rubric.scale.max for s in r.scores)


class BatchScorer(BrokenScorer):
    """BrokenScorer's answers, also through score_many; counts the calls."""

    id = "batch"

    def __init__(self):
        self.batches: list[int] = []
        self.single = 0

    def score(self, rubric, question, text):
        self.single += 1
        return super().score(rubric, question, text)

    def score_many(self, rubric, answers):
        self.batches.append(len(answers))
        return [BrokenScorer.score(self, rubric, q, t) for q, t in answers]


def test_a_scorer_with_score_many_gets_answers_in_chunks_with_the_same_results(monkeypatch):
    import vbr.scoring.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_CHUNK", 4)
    texts = [GOOD, GOOD + " wild", "", GOOD, GOOD + " extra", GOOD]  # a bad value, an empty answer
    items = [resp(app=f"a{i}", text=t) for i, t in enumerate(texts)] + [
        resp(app="r1", q="rank", ranking={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})]
    one_by_one = score_answers(R, items, BrokenScorer(), None)
    seen: list[int] = []
    batch = BatchScorer()
    chunked = score_answers(R, items, batch, None, progress=seen.append)
    # chunks of 4 items; the empty answer and the ranking item never reach the scorer
    assert batch.batches == [3, 2] and batch.single == 0 and seen == [4, 7]
    strip = lambda rs: [(r.application_id, r.flags, [(s.value_id, s.level, s.flags) for s in r.scores])  # noqa: E731
                        for r in rs]
    assert strip(chunked) == strip(one_by_one)
    assert {s.scorer_id for r in chunked for s in r.scores if r.question_id == "free"} == {"batch"}


def test_a_failing_batch_is_scored_answer_by_answer_so_one_bad_answer_fails_alone(monkeypatch):
    import vbr.scoring.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_CHUNK", 8)
    batch = BatchScorer()  # "boom" raises inside score_many, and then in score for that answer only
    items = [resp(app=f"a{i}", text=GOOD + (" boom" if i == 2 else "")) for i in range(5)]
    out = score_answers(R, items, batch, None, campaign_flags=False)
    assert batch.batches == [5] and batch.single == 5
    assert [bool(r.scores) for r in out] == [True, True, False, True, True]
    assert "model file missing" in out[2].flags[-1].reason


def test_scores_name_the_scorer_a_value_score_says_scored_it():
    class Delegating:
        id, version = "set", "s1"

        def score(self, rubric, question, text):
            return [ValueScore("compassion", 3, 0.9, scorer_id="model", scorer_version="abc"),
                    ValueScore("courage", 1, 0.8)]

    [r] = score_answers(R, [resp(text=GOOD)], Delegating(), None)
    assert [(s.value_id, s.scorer_id, s.scorer_version) for s in r.scores] == [
        ("compassion", "model", "abc"), ("courage", "set", "s1")]
