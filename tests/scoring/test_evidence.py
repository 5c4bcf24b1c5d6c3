"""The evidence scorer: stemming, phrases, negation, offsets, distinct counting, scale mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vbr.models import (FreeTextKey, Indicator, Polarity, Question, QuestionType, Rubric, Scale,
                        ScaleLevel, Value)
from vbr.scoring.base import Scorer
from vbr.scoring.evidence import (_derives, EvidenceScorer, evidence_feature_names, evidence_features,
                                  split_sentences, stem)


def _ind(i, pol, *ph):
    return Indicator(id=i, polarity=pol, text=f"indicator {i}", phrases=ph)


def make_rubric(lo: int = 0, hi: int = 4) -> Rubric:
    levels = tuple(ScaleLevel(level=i, label=f"L{i}", anchor=f"Anchor text for level {i}.")
                   for i in range(lo, hi + 1))
    values = (
        Value(id="compassion", name="Compassion", description="Kindness, empathy and dignity.",
              indicators=(
                  _ind("c-listen", "positive", "listen"),
                  _ind("c-time", "positive", "sat with", "made time", "took the time to"),
                  _ind("c-empathy", "positive", "empath", "how she felt"),
                  _ind("c-dignity", "positive", "dignity", "privacy"),
                  _ind("c-reassure", "positive", "reassur"),
                  _ind("c-ignore", "negative", "ignore", "dismiss"),
                  _ind("c-blame", "negative", "blame"),
                  _ind("c-rush", "negative", "rushed them", "no time for"),
              )),
        Value(id="courage", name="Courage", description="Speaking up and doing the right thing.",
              indicators=(
                  _ind("k-speak", "positive", "speak up", "raised a concern"),
                  _ind("k-escalate", "positive", "escalat"),
                  _ind("k-silent", "negative", "said nothing", "kept quiet"),
                  _ind("k-not-my-job", "negative", "not my job"),
              )),
    )
    qs = (
        Question(id="q-comp", type=QuestionType.free_text, text="Tell us about a time you showed compassion.",
                 values=("compassion",), strong_answer_notes="Specific example with own actions.",
                 key=FreeTextKey(strong_answer="I sat with her and listened.")),
        Question(id="q-both", type=QuestionType.free_text, text="Tell us about a time you spoke up for a patient.",
                 values=("compassion", "courage"), strong_answer_notes="Specific example with own actions.",
                 key=None),
    )
    return Rubric(id="t", name="T", version="1.0", framework="t", description="test",
                  scale=Scale(min=lo, max=hi, levels=levels), values=values, questions=qs)


R = make_rubric()
Q = R.question("q-comp")
QB = R.question("q-both")
S = EvidenceScorer()


def one(text, q=Q, rubric=R):
    return S.score(rubric, q, text)[0]


def ids(vs, polarity=None, negated=None):
    return {e.indicator_id for e in vs.evidence
            if (polarity is None or e.polarity == polarity) and (negated is None or e.negated == negated)}


def test_is_a_scorer_with_id_and_version():
    assert isinstance(S, Scorer)
    assert S.id == "evidence" and S.version
    from vbr.default_plugins import scorers

    assert [s.id for s in scorers.vbr_register_scorers()] == ["evidence"]


@pytest.mark.parametrize("words, root", [
    ("listen listens listened listening", "listen"),
    ("care cares cared caring", "care"),
    ("hope hopes hoped hoping", "hope"),
    ("case cases", "case"),
    ("apologise apologised apologize apologizing", "apologis"),
    ("carry carries carried", "carry"),
    ("refer referred referring", "refer"),
])
def test_light_stemming(words, root):
    assert {stem(w) for w in words.split()} == {root}


@pytest.mark.parametrize("text", ["I listened to her.", "Listening matters.", "She says I LISTEN.",
                                  "He listens well."])
def test_stem_variants_match(text):
    assert "c-listen" in ids(one(text), Polarity.positive, False)


def test_stems_keep_short_words_apart():
    assert stem("car") != stem("caring") and stem("cars") != stem("cares")
    assert stem("hopping") == stem("hop") != stem("hoping")


@pytest.mark.parametrize("word, derived", [
    ("care", "carer"), ("care", "careful"), ("escalat", "escalation"), ("empath", "empathetic"),
    ("reassur", "reassurance"), ("upset", "upsetting"), ("assess", "assessment"),
    ("notice", "noticeable"), ("pain", "painful"),
])
def test_phrase_words_match_their_derivations(word, derived):
    assert _derives(word, derived)


@pytest.mark.parametrize("word, other", [
    ("care", "career"), ("care", "careless"), ("pain", "painting"), ("pain", "painless"),
    ("gentle", "gentleman"), ("kind", "kindergarten"),
])
def test_phrase_words_do_not_match_other_words_that_start_the_same(word, other):
    assert not _derives(word, other)


def test_the_6cs_care_phrases_ignore_careers_and_cars():
    from vbr.rubrics import builtin_rubrics

    rubric = next(r for r in builtin_rubrics() if r.id == "6cs")
    q = next(q for q in rubric.questions if "care" in q.values)
    plain = S.score(rubric, q, "I want a career in the city, so my car plan was to drive there.")
    caring = S.score(rubric, q, "I adapted the care plan to her own wishes and habits.")
    spans = lambda scores: {e.indicator_id for v in scores if v.value_id == "care"  # noqa: E731
                            for e in v.evidence}
    assert spans(plain) == set()
    assert "care-pos-individual" in spans(caring)


def test_word_boundaries_and_prefix_fragments():
    assert "c-dignity" not in ids(one("It was undignified."))  # word must start with the phrase
    assert "c-empathy" in ids(one("I was empathetic and showed empathy."))
    assert "c-reassure" in ids(one("I reassured him."))


def test_multi_word_phrases_allow_small_gaps_but_not_sentences_apart():
    assert "c-time" in ids(one("I sat quietly with her."))
    assert "c-time" in ids(one("I took time to explain."))  # "the" is optional
    assert "c-time" not in ids(one("I sat down. With her family it was hard."))


@pytest.mark.parametrize("text", [
    "I would not ignore a patient.", "I would never dismiss her worries.", "I didn't blame anyone.",
    "I did not want to blame the student.", "Rather than blaming the porter, I fixed it.",
    "Blaming others is never acceptable.", "I'd never ignore a call bell.",
    "Nobody was ignored.", "I avoided blaming anyone.", "Ignoring him was not the answer.",
])
def test_negated_negatives_are_not_negative(text):
    vs = one(text)
    assert not ids(vs, Polarity.negative, False), vs.evidence
    assert ids(vs, Polarity.negative, True)
    assert vs.level >= R.scale.min


def test_negated_negative_is_at_most_mild_positive():
    neg = one("I ignored her and blamed the night staff.")
    negated = one("I did not ignore her and I did not blame the night staff.")
    pos = one("I listened, sat with her, empathised and kept her dignity.")
    assert neg.level == 0
    assert 0 <= negated.level <= 1
    assert pos.level >= 3


@pytest.mark.parametrize("text", ["I did not listen.", "I never made time for her.", "I wasn't reassuring."])
def test_negated_positives_are_not_positive(text):
    vs = one(text)
    assert not ids(vs, Polarity.positive, False)
    assert ids(vs, Polarity.positive, True)
    assert vs.level == 0


def test_negation_does_not_cross_clauses_or_not_only():
    assert "c-listen" in ids(one("I did not panic, I listened."), Polarity.positive, False)
    assert "c-listen" in ids(one("I did not panic and listened."), Polarity.positive, False)
    assert "c-listen" in ids(one("I not only listened but also sat with her."), Polarity.positive, False)


def test_negative_phrase_containing_a_negation_is_itself_the_indicator():
    vs = S.score(R, QB, "I told him it was not my job.")[1]
    assert ids(vs, Polarity.negative, False) == {"k-not-my-job"}


def test_evidence_offsets_point_into_the_text():
    text = "  Firstly, I listened.\n\nThen I SAT WITH her; I'd never ignore her.  I reassured her family and escalated it. "
    for vs in S.score(R, QB, text):
        assert vs.evidence
        for e in vs.evidence:
            assert text[e.start:e.end] == e.text
            assert 0 <= e.start < e.end <= len(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    "I listened.", "I sat with her.", "I would never ignore him!", "Ëmpathy matters", "\n\n", "  ",
    "I raised a concern.", "I kept quiet?", "[NAME] was upset.", "dignity;", "blame", "x" * 30, "—",
]), max_size=12), st.text(max_size=40))
def test_offsets_hold_for_any_text(parts, noise):
    text = noise.join(parts)
    for vs in S.score(R, QB, text):
        assert R.scale.min <= vs.level <= R.scale.max
        assert 0.0 <= vs.confidence <= 1.0
        for e in vs.evidence:
            assert text[e.start:e.end] == e.text


def test_repetition_and_length_earn_nothing():
    once = one("I listened to her.")
    many = one("I listened to her. " * 40 + "Honestly I listened and listened and kept listening. " * 20)
    assert many.level == once.level
    padded = one("I listened to her. " + "The ward was busy that day and the weather was grey. " * 50)
    assert padded.level == once.level


def test_distinct_indicators_raise_the_level_with_diminishing_returns():
    texts = ["I listened.", "I listened and sat with her.", "I listened, sat with her and empathised.",
             "I listened, sat with her, empathised and kept her dignity.",
             "I listened, sat with her, empathised, kept her dignity and reassured her."]
    levels = [one(t).level for t in texts]
    assert levels == sorted(levels)
    assert levels[0] >= 1 and levels[-1] == 4


def test_negatives_pull_the_level_down_and_lower_confidence():
    good = one("I listened, sat with her and empathised.")
    mixed = one("I listened, sat with her and empathised, but I blamed the student and ignored the bell.")
    assert mixed.level < good.level
    assert mixed.confidence < good.confidence


def test_no_evidence_is_the_bottom_with_low_confidence():
    vs = one("The weather was fine and the car park was full.")
    assert vs.level == 0 and vs.evidence == () and vs.confidence < 0.5


def test_other_scales_are_respected():
    r = make_rubric(1, 5)
    q = r.question("q-comp")
    assert one("Nothing relevant.", q, r).level == 1
    assert one("I listened, sat with her, empathised, kept her dignity and reassured her.", q, r).level == 5
    r2 = make_rubric(0, 2)
    assert one("I listened, sat with her, empathised and kept her dignity.", r2.question("q-comp"), r2).level == 2


def test_only_the_question_values_are_scored():
    assert [v.value_id for v in S.score(R, QB, "I listened.")] == ["compassion", "courage"]


def test_placeholders_never_match_indicators():
    vs = one("[NAME] [EMAIL] [PHONE] [ADDRESS]")
    assert vs.evidence == ()


def test_sentence_split_keeps_offsets():
    text = "One. Two!  Three?\nFour\n\n- five"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["One.", "Two!", "Three?", "Four", "- five"]


def test_large_answer_is_fine():
    text = ("I sat with the patient and listened, reassured her and kept her dignity. " * 700)[:50_000]
    vs = one(text)
    assert vs.level == 4
    assert len(vs.evidence) <= 5 * 8


def test_evidence_features_shape_and_content():
    texts = ["I listened and sat with her. I kept quiet.", "", "I would not ignore her."]
    X = evidence_features(R, texts)
    names = evidence_feature_names(R)
    assert X.shape == (3, 8) and len(names) == 8
    row = dict(zip(names, X[0]))
    assert row["compassion:n_positive"] == 2 and row["courage:n_negative"] == 1
    assert X[1].sum() == 0
    assert dict(zip(names, X[2]))["compassion:n_negated"] == 1
    assert evidence_features(R, [], ["courage"]).shape == (0, 4)
    assert isinstance(X, np.ndarray)


BUILTIN = Path(__file__).resolve().parents[2] / "rubrics"


@pytest.mark.skipif(not (BUILTIN / "6cs.yaml").exists(), reason="built-in rubric not there yet")
def test_builtin_rubrics_score_a_plausible_answer():
    from vbr.rubrics import load_rubric_file

    for path in sorted(BUILTIN.glob("*.yaml")):
        rubric = load_rubric_file(path)
        for q in rubric.questions:
            if q.type is not QuestionType.free_text:
                continue
            for vs in S.score(rubric, q, "I listened to the patient, explained the plan, involved her "
                                         "family and escalated my concern to the nurse in charge."):
                assert rubric.scale.min <= vs.level <= rubric.scale.max
