"""LL144 tables against a hand-checked example with sex x race intersections, unknowns and a
category under 2 % of the sample (broad grouping).

The 200 applicants (selected / applicants):

    sex \\ group   White   Asian   Black   Other   code Z   code 99
    F             20/40    9/30    8/20     -       1/4       -
    M             20/50   12/30    4/16    1/3       -       0/2
    unknown sex    2/5      -       -       -        -        -

Race/ethnicity (unknown = Z + 99 = 6 people, 1 selected):
    White 42/95 = 0.442105 (highest), Asian 21/60 = 0.35 -> IR 0.35/0.442105 = 0.791667,
    Black 12/36 = 0.333333 -> IR 0.753968, Other 1/3 is 1.5 % of 200 (< 2 %): excluded, counts shown.
Sex (unknown = 5 people, 2 selected):
    Female 38/94 = 0.404255 (highest), Male 37/101 = 0.366337 -> IR (37*94)/(101*38) = 3478/3838 = 0.906201.
Sex x race (unknown = either part unknown: 5 + 4 + 2 = 11 people, 3 selected):
    F/White 20/40 = 0.5 (highest); F/Asian 0.3 -> 0.6; F/Black 0.4 -> 0.8; M/White 0.4 -> 0.8;
    M/Asian 0.4 -> 0.8; M/Black 4/16 = 0.25 -> 0.5; M/Other 1/3 excluded (1.5 %).
"""

from __future__ import annotations

import numpy as np
import pytest

from vbr.fairness import selection_audit

CELLS = [  # sex, code, applicants, selected
    ("F", "A", 40, 20), ("F", "H", 30, 9), ("F", "N", 20, 8), ("F", "Z", 4, 1),
    ("M", "A", 50, 20), ("M", "J", 30, 12), ("M", "M", 16, 4), ("M", "R", 3, 1), ("M", "99", 2, 0),
    (None, "B", 5, 2),
]


def data():
    sex, codes, sel = [], [], []
    for s, c, n, x in CELLS:
        sex += [s] * n
        codes += [c] * n
        sel += [1] * x + [0] * (n - x)
    order = np.random.default_rng(3).permutation(len(sel))
    return [sel[i] for i in order], [codes[i] for i in order], [sex[i] for i in order]


@pytest.fixture(scope="module")
def tables():
    sel, codes, sex = data()
    result = selection_audit(sel, codes, sex=sex, regime="ll144", grouping="broad")
    return {s.table: s for s in result.regime.stages}, result


def rows(stage):
    return {r.group: r for r in stage.groups}


def test_race_table(tables):
    t, _ = tables
    r = rows(t["race/ethnicity (selection rate)"])
    assert (r["White"].applicants, r["White"].selected) == (95, 42)
    assert r["White"].is_reference and r["White"].rate == pytest.approx(0.442105, abs=1e-6)
    assert r["Asian"].impact_ratio == pytest.approx(0.791667, abs=1e-6)
    assert r["Black"].impact_ratio == pytest.approx(0.753968, abs=1e-6)
    assert r["Other"].impact_ratio is None and "under 2%" in r["Other"].excluded
    assert (r["Other"].applicants, r["Other"].selected) == (3, 1)
    assert r["Other"].share == pytest.approx(0.015)
    assert (r["Unknown"].applicants, r["Unknown"].selected) == (6, 1)
    assert r["Mixed"].applicants == 0 and r["Mixed"].verdict == "no_applicants"
    assert t["race/ethnicity (selection rate)"].unknown == 6


def test_sex_table(tables):
    t, _ = tables
    r = rows(t["sex (selection rate)"])
    assert (r["Female"].applicants, r["Female"].selected) == (94, 38)
    assert (r["Male"].applicants, r["Male"].selected) == (101, 37)
    assert r["Female"].is_reference
    assert r["Male"].impact_ratio == pytest.approx(3478 / 3838, abs=1e-12)
    assert (r["Unknown"].applicants, r["Unknown"].selected) == (5, 2)


def test_intersection_table(tables):
    t, _ = tables
    r = rows(t["sex x race/ethnicity (selection rate)"])
    assert r["Female / White"].is_reference and r["Female / White"].rate == 0.5
    expected = {"Female / Asian": 0.6, "Female / Black": 0.8, "Male / White": 0.8, "Male / Asian": 0.8,
                "Male / Black": 0.5}
    for g, ir in expected.items():
        assert r[g].impact_ratio == pytest.approx(ir, abs=1e-12), g
    assert r["Male / Other"].impact_ratio is None and r["Male / Other"].excluded
    assert (r["Unknown"].applicants, r["Unknown"].selected) == (11, 3)
    assert r["Female / Mixed"].applicants == 0
    # exactly 0.80 is not below the four-fifths line
    assert r["Male / White"].verdict == "no_adverse_impact"


def test_unknown_counts_and_json(tables):
    _, result = tables
    d = result.to_dict()
    unknown = {u["table"]: u["unknown"] for u in d["tables"]["unknown_counts"]}
    assert unknown == {"race/ethnicity": 6, "sex": 5, "sex x race/ethnicity": 11}
    assert d["data_quality"]["unknown_codes"]["applied"] == {"Z": 4, "99": 2}
    assert d["regime"]["id"] == "ll144"


def test_scoring_rate_above_whole_sample_median():
    # 8 people, median of all 8 scores = 4.5; above: 5,6,7,8
    scores = [1, 2, 3, 4, 5, 6, 7, 8]
    codes = ["A", "A", "A", "A", "N", "N", "N", "Z"]
    result = selection_audit(None, codes, scores=scores, regime="ll144", grouping="broad",
                             config={"min_group_size": 1, "ll144_min_share": 0.0})
    stage = next(s for s in result.regime.stages if s.table == "race/ethnicity (scoring rate)")
    r = rows(stage)
    assert (r["White"].applicants, r["White"].selected) == (4, 0)
    assert (r["Black"].applicants, r["Black"].selected) == (3, 3)
    assert r["Black"].is_reference and r["White"].impact_ratio == 0.0
    assert (r["Unknown"].applicants, r["Unknown"].selected) == (1, 1)
    assert result.to_dict()["tables"]["score_median"] == 4.5
