"""Review flags: per answer, per score, and near duplicates across a campaign."""

from __future__ import annotations

import numpy as np
import pytest

from vbr.models import (FreeTextKey, Indicator, Question, QuestionType, ReviewFlag, Rubric, Scale,
                        ScaleLevel, Value)
from vbr.scoring.base import ValueScore
from vbr.scoring.flags import (FlagConfig, _synthetic_answers, answer_flags, confidence_flags,
                               copied_fraction, find_near_duplicates, minhash_signatures,
                               near_duplicate_flags, topic_similarity, word_count)


def _rubric() -> Rubric:
    levels = tuple(ScaleLevel(level=i, label=f"L{i}", anchor=f"Anchor text for level {i}.") for i in range(5))
    ind = lambda i, pol, t, *ph: Indicator(id=i, polarity=pol, text=t, phrases=ph)  # noqa: E731
    values = (
        Value(id="compassion", name="Compassion",
              description="Responding with kindness to a patient's pain, distress or anxiety; making time for people.",
              indicators=(ind("c1", "positive", "Sits with and listens to a distressed patient or relative.", "sat with", "listen"),
                          ind("c2", "positive", "Notices how the person feels and reassures them.", "anxious", "reassur"),
                          ind("c3", "negative", "Rushes or dismisses a patient's worries.", "rushed", "dismiss"))),
        Value(id="courage", name="Courage",
              description="Speaking up about concerns for patient safety, even to senior colleagues on the ward.",
              indicators=(ind("k1", "positive", "Raises a safety concern with the nurse in charge or manager.", "raised a concern", "escalat"),
                          ind("k2", "negative", "Keeps quiet about unsafe practice.", "kept quiet"))),
    )
    q = Question(id="q1", type=QuestionType.free_text,
                 text="Tell us about a time you cared for a patient who was anxious or in distress. What did you do?",
                 values=("compassion",), strong_answer_notes="A specific patient; sitting with them, listening, reassuring.",
                 key=FreeTextKey(strong_answer="I sat with the anxious patient, listened to her fears and reassured her."))
    return Rubric(id="t", name="T", version="1.0", framework="t", description="test",
                  scale=Scale(levels=levels), values=values, questions=(q,))


R = _rubric()
Q = R.questions[0]
GOOD = ("On a night shift an elderly patient on our ward was anxious and kept calling out. I sat with "
        "her, listened to her fears about the operation, explained what would happen in the morning and "
        "reassured her. I asked the nurse in charge about her pain relief and checked on her again later.")


def codes(flags):
    return [f.code for f in flags]


def test_a_good_answer_has_no_flags():
    assert answer_flags(GOOD, Q, R) == []


@pytest.mark.parametrize("text", ["", "   \n\t ", None])
def test_empty(text):
    flags = answer_flags(text, Q, R)
    assert codes(flags) == ["empty"]
    assert "empty" in flags[0].reason.lower()


def test_too_short_is_configurable_and_explained():
    text = "I sat with her and listened to her worries until she felt calmer."
    flags = answer_flags(text, Q, R)
    assert "too_short" in codes(flags)
    reason = next(f.reason for f in flags if f.code == "too_short")
    assert "13 words" in reason and "25" in reason
    assert "too_short" not in codes(answer_flags(text, Q, R, FlagConfig(min_words=10)))


def test_too_long():
    text = (GOOD + " ") * 40
    assert "too_long" in codes(answer_flags(text, Q, R))
    assert "too_long" not in codes(answer_flags(text, Q, R, FlagConfig(max_chars=100_000)))


def test_copied_question():
    copied = Q.text + " " + Q.text.lower() + " Yes."
    assert copied_fraction(copied, Q.text) > 0.8
    flags = answer_flags(Q.text + " I did that once.", Q, R, FlagConfig(min_words=5))
    assert "copied_question" in codes(flags)
    assert copied_fraction(GOOD, Q.text) < 0.2


@pytest.mark.parametrize("text", [
    "To bake a sponge cake, cream the butter and sugar, add the eggs one at a time, fold in the flour "
    "and bake for twenty minutes at one hundred and eighty degrees until golden on top.",
    "The stock market fell sharply yesterday as investors worried about interest rates and the latest "
    "inflation figures published by the central bank on Tuesday morning in London.",
])
def test_off_topic(text):
    flags = answer_flags(text, Q, R)
    assert "off_topic" in codes(flags)
    assert "different question" in next(f.reason for f in flags if f.code == "off_topic")


def test_on_topic_answers_score_higher_than_off_topic():
    on = topic_similarity(GOOD, Q, R)
    off = topic_similarity("My favourite band played three new songs at the festival in August.", Q, R)
    assert on > 3 * max(off, 0.01)
    assert "off_topic" not in codes(answer_flags(GOOD, Q, R, FlagConfig(off_topic_threshold=0.05)))


@pytest.mark.parametrize("text", [
    "Cuando trabajé en el hospital, una paciente estaba muy triste y yo me senté con ella para hablar de su familia y de sus miedos.",
    "Kiedy pracowałam w szpitalu, pacjentka była bardzo smutna i usiadłam z nią, żeby porozmawiać o jej rodzinie i jej strachu przed operacją.",
    "Lorsque je travaillais à l'hôpital, une patiente était très triste et je me suis assise avec elle pour parler de sa famille.",
    "当我在医院工作时，一位病人非常难过，我坐下来和她谈论她的家人，并告诉护士长她的担忧。",
    "عندما كنت أعمل في المستشفى كانت هناك مريضة حزينة جدا فجلست معها وتحدثنا عن عائلتها ومخاوفها.",
])
def test_not_english(text):
    flags = answer_flags(text, Q, R, FlagConfig(min_words=1))
    assert "not_english" in codes(flags)
    assert "off_topic" not in codes(flags)  # judged as not English, not as off topic
    assert "not been marked down" in next(f.reason for f in flags if f.code == "not_english")


@pytest.mark.parametrize("text", [
    GOOD,
    "Listening, empathy, teamwork, compassion, dignity, respect, communication, patience, kindness, honesty.",
    "Me and my colleague we go to patient, she is crying, I am sit with her and I am listen her problem, "
    "then I tell to nurse in charge because she have pain.",
    "I cared for Mr Nguyễn Văn Đức's wife at home; she was anxious, so I sat with her and listened.",
])
def test_english_including_non_native_and_lists_is_not_flagged(text):
    assert "not_english" not in codes(answer_flags(text, Q, R, FlagConfig(min_words=1)))


def test_low_confidence_flags_per_value_in_plain_words():
    scores = [ValueScore("compassion", 2, 0.42), ValueScore("courage", 3, 0.9)]
    flags = confidence_flags(scores, R)
    assert set(flags) == {"compassion"}
    assert isinstance(flags["compassion"], ReviewFlag) and flags["compassion"].code == "low_confidence"
    assert "unsure about Compassion" in flags["compassion"].reason
    assert confidence_flags(scores, R, FlagConfig(low_confidence=0.3)) == {}


def test_word_count():
    assert word_count("I don't know — it's fine, 12 times.") == 7


# --------------------------------------------------------------------------- near duplicates


def test_minhash_estimates_track_true_jaccard():
    rng = np.random.default_rng(0)
    base = [" ".join(f"w{x}" for x in rng.integers(0, 3000, size=150)) for _ in range(60)]
    pairs = []
    for t in base:
        w = t.split()
        m = int(rng.integers(0, len(w) // 2))
        for a in rng.choice(len(w), size=m, replace=False):
            w[a] = f"new{rng.integers(0, 10**9)}"
        pairs += [t, " ".join(w)]
    sig, ok = minhash_signatures(pairs)
    assert ok.all()

    def shingles(t):
        w = t.split()
        return {tuple(w[i:i + 3]) for i in range(len(w) - 2)}

    errs = []
    for k in range(0, len(pairs), 2):
        a, b = shingles(pairs[k]), shingles(pairs[k + 1])
        errs.append((sig[k] == sig[k + 1]).mean() - len(a & b) / len(a | b))
    assert abs(np.mean(errs)) < 0.03 and np.max(np.abs(errs)) < 0.2


def test_near_duplicates_on_20k_synthetic_answers():
    texts, planted = _synthetic_answers(20_000, 60, seed=7, dup_every=100)
    res = find_near_duplicates(texts, threshold=0.7)
    found = {(i, j) for i, j, _ in res.pairs}
    hits = sum((min(a, b), max(a, b)) in found for a, b in planted)
    assert hits >= 0.98 * len(planted)
    planted_nodes = {x for p in planted for x in p}
    # every reported pair involves a planted copy (random answers are never near duplicates)
    assert all(i in planted_nodes and j in planted_nodes for i, j, _ in res.pairs)
    assert all(0.7 <= e <= 1.0 for _, _, e in res.pairs)
    assert res.clusters and all(len(c) >= 2 for c in res.clusters)


def test_mass_copies_form_one_cluster_cheaply():
    rng = np.random.default_rng(1)
    template = " ".join(f"w{x}" for x in rng.integers(0, 2000, size=80))
    texts = [template] * 300 + [" ".join(f"w{x}" for x in rng.integers(0, 2000, size=80)) for _ in range(300)]
    res = find_near_duplicates(texts)
    assert len(res.clusters) == 1 and res.clusters[0] == tuple(range(300))
    assert res.n_candidates < 300 * 32 * 3  # star + chain per band, not 300² pairs


def test_near_duplicate_flags_name_the_other_answers():
    other = ("During my placement a man with dementia became distressed at night. I sat with him, "
             "talked about his garden, found his glasses and made him a cup of tea until he settled.")
    texts = [GOOD, GOOD.replace("night shift", "late shift"), other, ""]
    flags, res = near_duplicate_flags(["app-1", "app-2", "app-3", "app-4"], texts)
    assert set(flags) == {"app-1", "app-2"}
    assert "app-2" in flags["app-1"].reason and "compare" in flags["app-1"].reason
    assert res.pairs[0][:2] == (0, 1)


def test_near_duplicates_ignore_tiny_and_empty_answers():
    res = find_near_duplicates(["N/A", "N/A", "", "", "see CV", "see CV"])
    assert res.pairs == [] and res.clusters == []
    assert find_near_duplicates([]).pairs == []
