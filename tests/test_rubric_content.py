"""Content checks for the two built-in rubrics (6Cs and NHS Constitution values).

These test what assessors rely on, not the loader: every value has indicators both ways,
anchors at every level, enough questions, and a mapping to the other framework whose targets
really exist (the ``Rubric`` validator only checks the mapping's keys).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vbr.models import QuestionType
from vbr.rubrics import load_rubric_file

RUBRIC_DIR = Path(__file__).resolve().parent.parent / "rubrics"
FILES = {"6cs": "6cs.yaml", "nhs-constitution": "nhs-constitution.yaml"}
OTHER = {"6cs": "nhs-constitution", "nhs-constitution": "6cs"}


@pytest.fixture(scope="module")
def rubrics():
    return {rid: load_rubric_file(RUBRIC_DIR / name) for rid, name in FILES.items()}


@pytest.fixture(params=sorted(FILES))
def rubric_id(request):
    return request.param


def test_ids_match_file_names(rubrics, rubric_id):
    r = rubrics[rubric_id]
    assert r.id == rubric_id
    assert r.ref == f"{rubric_id}@1.0"
    assert r.source


def test_six_values(rubrics, rubric_id):
    assert len(rubrics[rubric_id].values) == 6


def test_expected_value_names(rubrics):
    assert [v.name for v in rubrics["6cs"].values] == [
        "Care", "Compassion", "Competence", "Communication", "Courage", "Commitment",
    ]
    assert [v.name for v in rubrics["nhs-constitution"].values] == [
        "Working together for patients", "Respect and dignity", "Commitment to quality of care",
        "Compassion", "Improving lives", "Everyone counts",
    ]


def test_indicators_both_ways(rubrics, rubric_id):
    for v in rubrics[rubric_id].values:
        assert len(v.positive) >= 4, v.id
        assert len(v.negative) >= 3, v.id
        for ind in v.indicators:
            assert ind.phrases and all(p == p.lower() for p in ind.phrases), ind.id


def test_every_value_anchored_at_every_level(rubrics, rubric_id):
    r = rubrics[rubric_id]
    want = list(range(r.scale.min, r.scale.max + 1))
    assert want == [0, 1, 2, 3, 4]
    for v in r.values:
        anchors = r.anchors_for(v.id)
        assert sorted(a.level for a in anchors) == want, v.id
        assert all(a.anchor.strip() for a in anchors), v.id
        # value-specific anchors, not only the rubric-wide fallback
        assert v.anchors is not None, v.id


def test_at_least_two_questions_per_value(rubrics, rubric_id):
    r = rubrics[rubric_id]
    for v in r.values:
        free_text = [q for q in r.questions if v.id in q.values and q.type is QuestionType.free_text]
        assert len(free_text) >= 2, v.id
        for q in free_text:
            assert q.key is not None and q.key.strong_answer, q.id


def test_structured_items_present(rubrics, rubric_id):
    types = {q.type for q in rubrics[rubric_id].questions}
    assert {QuestionType.sjt_ranking, QuestionType.sjt_choose, QuestionType.rating} <= types
    for q in rubrics[rubric_id].questions:
        if q.type is QuestionType.sjt_ranking:
            assert len(q.options) == 5
        elif q.type is QuestionType.sjt_choose:
            assert len(q.options) == 8 and q.key.k == 3
            assert len(set(q.key.correct)) == 3
        elif q.type is QuestionType.rating:
            lo, hi = q.rating_scale
            assert lo <= q.key.key <= hi
            assert len(q.key.credit_by_distance) >= hi - lo + 1


def test_mapping_targets_exist_and_cover_every_value(rubrics, rubric_id):
    r = rubrics[rubric_id]
    other = rubrics[OTHER[rubric_id]]
    assert OTHER[rubric_id] in r.mapping
    m = r.mapping[OTHER[rubric_id]]
    assert set(m) == {v.id for v in r.values}
    other_ids = {v.id for v in other.values}
    for src, targets in m.items():
        assert targets, src
        assert set(targets) <= other_ids, (src, sorted(set(targets) - other_ids))
    # every value of the other framework is reached from this one
    assert {t for ts in m.values() for t in ts} == other_ids


def test_mapping_is_consistent_both_ways(rubrics):
    forward = rubrics["6cs"].mapping["nhs-constitution"]
    backward = rubrics["nhs-constitution"].mapping["6cs"]
    pairs_f = {(a, b) for a, bs in forward.items() for b in bs}
    pairs_b = {(a, b) for b, as_ in backward.items() for a in as_}
    assert pairs_f == pairs_b


def test_documented_links(rubrics):
    m = rubrics["6cs"].mapping["nhs-constitution"]
    assert "compassion" in m["compassion"]
    assert "working-together" in m["courage"]
    assert "commitment-to-quality" in m["competence"]
