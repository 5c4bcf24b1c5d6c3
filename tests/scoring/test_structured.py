"""SJT ranking, choose-k-of-n and rating items, marked exactly as domain.md §3 says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vbr.models import (ChooseKey, Question, QuestionType, RankingKey, RatingKey, Response, Scale,
                        ScaleLevel)
from vbr.scoring.structured import (StructuredAnswerError, score_choose, score_ranking, score_rating,
                                    score_structured, to_level)

SCALE = Scale(levels=tuple(ScaleLevel(level=i, label=str(i), anchor=f"Anchor for level {i}.") for i in range(5)))
KEY5 = RankingKey(ranks={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
CHOOSE = ChooseKey(k=3, correct=("a", "c", "f"))
OPTS8 = {o: f"option {o}" for o in "abcdefgh"}
RATING = RatingKey(key=3, credit_by_distance=(4, 2, 1))


# --------------------------------------------------------------------------- ranking


def test_ranking_key_answer_gets_20():
    r = score_ranking(KEY5, dict(KEY5.ranks), SCALE)
    assert (r.raw, r.max, r.level) == (20, 20, 4)


def test_ranking_worked_example():
    r = score_ranking(KEY5, {"a": 2, "b": 1, "c": 3, "d": 5, "e": 4}, SCALE)
    assert dict(r.per_option) == {"a": 3, "b": 3, "c": 4, "d": 3, "e": 3}
    assert r.raw == 16 and r.level == 3  # 16/20 × 4 = 3.2
    assert "4 − 1 = 3" in r.explanation and "16/20" in r.explanation


def test_ranking_reversed():
    r = score_ranking(KEY5, {"a": 5, "b": 4, "c": 3, "d": 2, "e": 1}, SCALE)
    assert dict(r.per_option) == {"a": 0, "b": 2, "c": 4, "d": 2, "e": 0}


def test_ranking_ties_and_missing_earn_zero_for_those_options_only():
    r = score_ranking(KEY5, {"a": 1, "b": 1, "c": 3, "d": None}, SCALE)
    assert dict(r.per_option) == {"a": 0, "b": 0, "c": 4, "d": 0, "e": 0}
    assert r.raw == 4
    assert "tied" in r.explanation and "no rank" in r.explanation


def test_ranking_nothing_given_is_zero_and_flagged():
    r = score_ranking(KEY5, None, SCALE)
    assert r.raw == 0 and r.level == 0 and [f.code for f in r.flags] == ["empty"]


def test_ranking_errors_name_the_option():
    with pytest.raises(StructuredAnswerError, match="'z'"):
        score_ranking(KEY5, {"z": 1}, SCALE)
    with pytest.raises(StructuredAnswerError, match="option 'a'"):
        score_ranking(KEY5, {"a": 6}, SCALE)


def test_ranking_long_items_clip_at_zero():
    key = RankingKey(ranks={str(i): i for i in range(1, 8)})
    r = score_ranking(key, {"1": 7, "7": 1}, SCALE)
    assert dict(r.per_option)["1"] == 0 and r.max == 28


rank_answers = st.dictionaries(st.sampled_from("abcde"), st.one_of(st.none(), st.integers(1, 5)))


@settings(max_examples=300, deadline=None)
@given(rank_answers)
def test_ranking_bounds_and_tie_rule(given_):
    r = score_ranking(KEY5, given_, SCALE)
    assert 0 <= r.raw <= r.max == 20
    assert SCALE.min <= r.level <= SCALE.max
    ranks = [v for v in given_.values() if v is not None]
    for opt, marks in r.per_option:
        g = given_.get(opt)
        if g is None or ranks.count(g) > 1:
            assert marks == 0
        else:
            assert marks == 4 - abs(g - KEY5.ranks[opt])
    assert r.raw == sum(m for _, m in r.per_option)


@settings(max_examples=100, deadline=None)
@given(st.permutations(list("abcde")))
def test_ranking_any_permutation_of_the_key_is_exact(perm):
    key = RankingKey(ranks={o: i + 1 for i, o in enumerate(perm)})
    assert score_ranking(key, dict(key.ranks), SCALE).raw == 20


# --------------------------------------------------------------------------- choose


def test_choose_full_marks_partial_and_fewer():
    assert score_choose(CHOOSE, ["a", "c", "f"], OPTS8, SCALE).raw == 12
    assert score_choose(CHOOSE, ["a", "b", "f"], OPTS8, SCALE).raw == 8
    assert score_choose(CHOOSE, ["c"], OPTS8, SCALE).raw == 4  # fewer than k is fine


def test_choose_more_than_k_scores_zero():
    r = score_choose(CHOOSE, ["a", "c", "f", "b"], OPTS8, SCALE)
    assert r.raw == 0 and r.level == 0
    assert "only 3 allowed" in r.explanation


def test_choose_unknown_option_is_an_error_naming_it():
    with pytest.raises(StructuredAnswerError, match="'zz'"):
        score_choose(CHOOSE, ["a", "zz"], OPTS8, SCALE)


def test_choose_duplicate_choice_counts_once_and_empty_is_flagged():
    assert score_choose(CHOOSE, ["a", "a", "a"], OPTS8, SCALE).raw == 4
    r = score_choose(CHOOSE, [], OPTS8, SCALE)
    assert r.raw == 0 and [f.code for f in r.flags] == ["empty"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from("abcdefgh"), max_size=10))
def test_choose_bounds(chosen):
    r = score_choose(CHOOSE, chosen, OPTS8, SCALE)
    assert 0 <= r.raw <= r.max == 12
    distinct = set(chosen)
    if len(distinct) > 3:
        assert r.raw == 0
    else:
        assert r.raw == 4 * len(distinct & {"a", "c", "f"})


# --------------------------------------------------------------------------- rating


def test_rating_partial_credit_table():
    assert [score_rating(RATING, g, SCALE).raw for g in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 2, 1, 0]
    assert score_rating(RATING, 3, SCALE).level == 4
    assert score_rating(RATING, 2, SCALE).level == 2


def test_rating_missing_is_zero_with_a_flag():
    r = score_rating(RATING, None, SCALE)
    assert r.raw == 0 and r.flags and r.flags[0].code == "empty"
    assert "did not give a rating" in r.flags[0].reason


def test_rating_outside_item_scale_is_an_error():
    with pytest.raises(StructuredAnswerError, match="outside"):
        score_rating(RATING, 9, SCALE, rating_scale=(1, 4))


def test_rating_bad_credit_table_is_an_error():
    with pytest.raises(StructuredAnswerError, match="credit table"):
        score_rating(RatingKey(key=2, credit_by_distance=(1, 3)), 2, SCALE)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(0, 10), min_size=1, max_size=4), st.one_of(st.none(), st.integers(-3, 10)))
def test_rating_bounds(key, table, rating):
    table = sorted(table, reverse=True)
    k = RatingKey(key=key, credit_by_distance=tuple(table))
    r = score_rating(k, rating, SCALE)
    assert 0 <= r.raw <= r.max == table[0]
    assert SCALE.min <= r.level <= SCALE.max
    assert score_rating(k, key, SCALE).raw == r.max


# --------------------------------------------------------------------------- level mapping and dispatch


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(1, 40), st.integers(0, 3), st.integers(1, 6))
def test_to_level_is_proportional_and_in_range(raw, max_raw, lo, span):
    raw = min(raw, max_raw)
    scale = Scale(min=lo, max=lo + span, levels=tuple(
        ScaleLevel(level=i, label=str(i), anchor=f"Anchor for level {i}.") for i in range(lo, lo + span + 1)))
    level, text = to_level(raw, max_raw, scale)
    assert lo <= level <= lo + span
    assert abs((level - lo) - raw / max_raw * span) <= 0.5 + 1e-9
    if raw == max_raw:
        assert level == lo + span
    assert f"level {level}" in text


def test_score_structured_dispatches():
    q = Question(id="r1", type=QuestionType.sjt_ranking, text="Rank these responses to the scenario.",
                 values=("courage",), strong_answer_notes="Escalating is best here.",
                 options={o: o for o in "abcde"}, key=KEY5)
    res = score_structured(q, Response(application_id="a1", question_id="r1", ranking=dict(KEY5.ranks)), SCALE)
    assert res.raw == 20
    qc = Question(id="c1", type=QuestionType.sjt_choose, text="Choose the three best actions.",
                  values=("courage",), strong_answer_notes="a, c and f are best.", options=OPTS8, key=CHOOSE)
    assert score_structured(qc, Response(application_id="a1", question_id="c1", choices=("a",)), SCALE).raw == 4
    qr = Question(id="t1", type=QuestionType.rating, text="How appropriate is this response?",
                  values=("courage",), strong_answer_notes="Fairly appropriate.", key=RATING, rating_scale=(1, 4))
    assert score_structured(qr, Response(application_id="a1", question_id="t1", rating=4), SCALE).raw == 2
