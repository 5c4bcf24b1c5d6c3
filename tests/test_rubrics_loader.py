"""Rubric files: loading, round trips, and bad input named by file, line and field."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from vbr.errors import ValidationFailed
from vbr.models import (FreeTextKey, Indicator, Polarity, Question, QuestionType, Rubric, Scale,
                        ScaleLevel, Value)
from vbr.rubrics import dump_rubric, load_rubric_file, parse_rubric_text

GOOD = textwrap.dedent("""\
    id: mini
    name: Mini rubric
    version: "1.0"
    framework: Test
    description: A small rubric used by the tests.
    scale:
      min: 0
      max: 2
      levels:
        - {level: 0, label: None, anchor: "No evidence of the value at all."}
        - {level: 1, label: Some, anchor: "Some evidence with little detail."}
        - {level: 2, label: Strong, anchor: "Specific evidence with reflection."}
    values:
      - id: care
        name: Care
        description: Care that is right for the person.
        indicators:
          - {id: care-pos, polarity: positive, text: Listens to the person, phrases: [listen]}
          - {id: care-neg, polarity: negative, text: Ignores the person, phrases: [ignore]}
    questions:
      - id: care-q1
        type: free_text
        values: [care]
        text: Tell us about a time you cared for someone.
        strong_answer_notes: Specific, person-centred, reflective.
    """)


def _problems(text: str) -> list[ValidationFailed]:
    with pytest.raises(ValidationFailed) as exc:
        parse_rubric_text(text, source="mini.yaml")
    return exc.value.problems or [exc.value]


def test_good_rubric_loads():
    r = parse_rubric_text(GOOD)
    assert r.ref == "mini@1.0" and r.value("care").positive[0].phrases == ("listen",)


def test_typo_names_file_line_and_field():
    problems = _problems(GOOD.replace("    description: Care that", "    descripton: Care that"))
    [p] = [q for q in problems if "unknown field" in q.message]
    assert p.file == "mini.yaml"
    assert p.line == 16
    assert p.field == "values[0](care).descripton"
    assert "unknown field 'descripton'" in p.message


def test_missing_anchor_is_a_scale_gap():
    text = GOOD.replace('    - {level: 1, label: Some, anchor: "Some evidence with little detail."}\n', "")
    assert text != GOOD
    [p] = _problems(text)
    assert "no anchor for level(s) [1]" in p.message
    assert p.field == "scale" and p.line == 7


def test_anchor_text_missing_names_the_level():
    text = GOOD.replace(', anchor: "Some evidence with little detail."', "")
    [p] = _problems(text)
    assert p.field == "scale.levels[1].anchor" and "required field 'anchor'" in p.message and p.line == 11


def test_duplicate_indicator_id():
    [p] = _problems(GOOD.replace("id: care-neg", "id: care-pos"))
    assert "duplicate indicator id(s): ['care-pos']" in p.message


def test_duplicate_yaml_key():
    text = GOOD.replace("framework: Test\n", "framework: Test\nversion: \"2.0\"\n")
    [p] = _problems(text)
    assert "key 'version' appears twice" in p.message and p.line == 5


def test_unknown_question_type():
    [p] = _problems(GOOD.replace("type: free_text", "type: essay"))
    assert p.field == "questions[0](care-q1).type" and "'essay'" in p.message and p.line == 22


def test_scale_level_outside_range():
    text = GOOD.replace("{level: 2, label: Strong", "{level: 3, label: Strong")
    [p] = _problems(text)
    assert "no anchor for level(s) [2]" in p.message and "level(s) [3] outside 0-2" in p.message


def test_not_yaml_and_not_utf8(tmp_path):
    with pytest.raises(ValidationFailed) as exc:
        parse_rubric_text("id: [unclosed", source="bad.yaml")
    assert exc.value.line == 1 and "not valid YAML" in exc.value.message
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9".encode("latin-1"))
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        load_rubric_file(path)


def test_question_targeting_unknown_value():
    [p] = _problems(GOOD.replace("values: [care]", "values: [kare]"))
    assert "unknown value(s) ['kare']" in p.message


# --------------------------------------------------------------------------- round trips

slug = st.from_regex(r"[a-z][a-z0-9-]{1,12}", fullmatch=True)
# 10-40 characters with no space at either end: the shortest text any rubric field takes is 10
# (a key's strong answer); the old strip-then-wrap strategy could make 3-character ones
words = st.from_regex(r"x[a-p ]{8,38}x", fullmatch=True)


@st.composite
def rubrics(draw) -> Rubric:
    top = draw(st.integers(1, 5))
    scale = Scale(min=0, max=top, levels=tuple(
        ScaleLevel(level=i, label=f"L{i}", anchor=draw(words)) for i in range(top + 1)))
    ids = draw(st.lists(slug, min_size=1, max_size=4, unique=True))
    values = []
    for vid in ids:
        inds = tuple(
            Indicator(id=f"{vid}-{pol.value}-{k}", polarity=pol, text=draw(words),
                      phrases=tuple(draw(st.lists(slug, min_size=1, max_size=3))))
            for pol in Polarity for k in range(draw(st.integers(1, 2))))
        values.append(Value(id=vid, name=vid.title(), description=draw(words), indicators=inds))
    questions = tuple(
        Question(id=f"{vid}-q", type=QuestionType.free_text, text=draw(words), values=(vid,),
                 strong_answer_notes=draw(words),
                 key=draw(st.one_of(st.none(), words.map(lambda w: FreeTextKey(strong_answer=w)))))
        for vid in ids)
    return Rubric(id=draw(slug), name="R", version=f"{draw(st.integers(0, 9))}.{draw(st.integers(0, 9))}",
                  framework="F", description=draw(words), scale=scale, values=tuple(values),
                  questions=questions)


@settings(max_examples=60, deadline=None)
@given(rubrics())
def test_dump_then_parse_is_identity(rubric):
    assert parse_rubric_text(dump_rubric(rubric)) == rubric


def test_builtin_rubrics_round_trip():
    from vbr.rubrics import builtin_rubrics

    for rubric in builtin_rubrics():
        assert parse_rubric_text(dump_rubric(rubric)) == rubric


def _question(**kw):
    from vbr.models import Question

    base = dict(id="q", text="Rate how appropriate this response is.", values=("care",),
                strong_answer_notes="Knows the policy and why it exists.")
    return Question(**{**base, **kw})


def test_structured_question_keys_are_checked():
    from pydantic import ValidationError

    from vbr.models import ChooseKey, RatingKey

    with pytest.raises(ValidationError, match="needs rating_scale"):
        _question(type="rating", key=RatingKey(key=4, credit_by_distance=(4, 2)))
    with pytest.raises(ValidationError, match="outside rating_scale 1-4"):
        _question(type="rating", key=RatingKey(key=5, credit_by_distance=(4, 2)), rating_scale=(1, 4))
    opts = {c: f"option {c}" for c in "abcd"}
    with pytest.raises(ValidationError, match="same option twice"):
        _question(type="sjt_choose", options=opts, key=ChooseKey(k=2, correct=("a", "a")))
    with pytest.raises(ValidationError, match="needs more than 4 options"):
        _question(type="sjt_choose", options=opts, key=ChooseKey(k=4, correct=tuple("abcd")))
    ok = _question(type="rating", key=RatingKey(key=4, credit_by_distance=(4, 2)), rating_scale=(1, 4))
    assert ok.key.key == 4
