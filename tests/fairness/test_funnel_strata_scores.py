"""Every stage of the funnel, strata (Mantel–Haenszel, Simpson's paradox), flip-flop, reference
choice, score analyses and the shape of to_dict / to_frame."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vbr.fairness import selection_audit
from vbr.models import Decision


def expand(cells):
    """cells: list of (code, stratum, applicants, selected) -> rows."""
    sel, codes, strata = [], [], []
    for code, stratum, n, x in cells:
        sel += [1] * x + [0] * (n - x)
        codes += [code] * n
        strata += [stratum] * n
    return sel, codes, strata


def group(stage, g):
    return next(r for r in stage.groups if r.group == g)


def test_every_stage_of_the_funnel_is_audited():
    rng = np.random.default_rng(5)
    n = 2000
    codes = rng.choice(list("ANH"), n)
    short = rng.random(n) < 0.5
    inter = short & (rng.random(n) < 0.5)
    appt = inter & (rng.random(n) < 0.5)
    r = selection_audit({"shortlisted": short, "interviewed": inter, "appointed": appt}, codes, grouping="broad")
    pairs = [(s.from_stage, s.stage) for s in r.regime.stages]
    assert pairs == [("applied", "shortlisted"), ("shortlisted", "interviewed"), ("interviewed", "appointed"),
                     ("applied", "appointed")]
    st = r.stage("interviewed")
    white = group(st, "White")
    assert white.applicants == int(short[codes == "A"].sum())
    assert white.selected == int(inter[codes == "A"].sum())
    d = r.to_dict()
    assert d["counts"]["stages"] == ["applied", "shortlisted", "interviewed", "appointed"]
    assert d["counts"]["reached"][0]["White"] == [int((codes == "A").sum()), int(short[codes == "A"].sum()),
                                                  int(inter[codes == "A"].sum()), int(appt[codes == "A"].sum())]
    assert set(d["data_quality"]["declaration_rate"]) == {"applied", "shortlisted", "interviewed", "appointed"}


def test_flip_flop_sends_to_review():
    # 7/20 vs 45/100: ratio 0.778 (< 0.80); with 8/20 it is 0.889 -> the verdict flips
    sel, codes, _ = expand([("N", "s", 20, 7), ("A", "s", 100, 45)])
    r = selection_audit(sel, codes)
    n = group(r.regime.stages[0], "N")
    assert n.flip_flop is True and "flip-flop" in n.verdict_text
    assert n.shortfall == 1 and n.outcome is Decision.REVIEW


def test_chosen_reference_and_small_highest_group_not_chosen():
    # B has 2/2 (100 %) but fewer than min_group_size applicants: A (highest among big groups) is the comparator
    sel, codes, _ = expand([("A", "s", 50, 25), ("N", "s", 50, 20), ("B", "s", 2, 2)])
    r = selection_audit(sel, codes)
    st = r.regime.stages[0]
    assert st.reference == "A" and "at least 10" in st.method["comparison"]
    assert group(st, "B").impact_ratio == 2.0
    r2 = selection_audit(sel, codes, reference="N")
    assert r2.regime.stages[0].reference == "N"
    assert group(r2.regime.stages[0], "A").impact_ratio == pytest.approx(1.25)


def test_strata_mantel_haenszel_and_simpsons_paradox():
    # within each site N does better than A, pooled N does far worse
    cells = [("A", "easy", 100, 80), ("N", "easy", 10, 9), ("A", "hard", 10, 2), ("N", "hard", 100, 25)]
    sel, codes, strata = expand(cells)
    r = selection_audit(sel, codes, strata=strata)
    n = group(r.regime.stages[0], "N")
    assert n.impact_ratio == pytest.approx((34 / 110) / (82 / 110))
    assert n.stratified["strata_used"] == 2 and n.stratified["odds_ratio"] > 1
    codes_found = {f.code for f in r.findings}
    assert "simpson" in codes_found
    json.dumps(r.to_dict(), allow_nan=False)
    assert r.to_dict()["counts"]["strata"] == ["easy", "hard"]


def test_missing_stratum_is_an_error():
    from vbr.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="stratum"):
        selection_audit([1, 0], ["A", "N"], strata=["s1", None])


def test_score_analysis_smd_and_human_gap():
    codes = ["A"] * 4 + ["N"] * 4 + ["Z"]
    model = [4, 5, 6, 7, 2, 3, 4, 5, np.nan]
    human = [4, 5, 6, 7, 3, 4, 5, 6, 5]
    r = selection_audit([1, 1, 0, 0, 1, 0, 0, 0, 1], codes, scores=model, human_scores=human,
                        config={"min_group_size": 2})
    s = r.to_dict()["scores"]
    rows = {g["group"]: g for g in s["groups"]}
    assert s["reference"] == "A"
    assert rows["A"]["mean"] == 5.5 and rows["N"]["mean"] == 3.5
    # pooled SD: both groups have SD sqrt(5/3); d = (3.5 - 5.5) / sqrt(5/3)
    assert rows["N"]["smd"] == pytest.approx(-2 / np.sqrt(5 / 3))
    assert rows["Unknown"]["unscored"] == 1 and rows["Unknown"]["n"] == 0
    gap = {g["group"]: g for g in s["human_vs_model"]["groups"]}
    assert gap["A"]["mean_gap"] == 0.0 and gap["N"]["mean_gap"] == -1.0
    assert s["human_vs_model"]["overall_gap"] == pytest.approx(-0.5)
    assert gap["Unknown"]["mean_gap"] is None and gap["Unknown"]["why_missing"]


def test_to_frame_and_to_dict_shape():
    sel, codes, _ = expand([("N", "s", 40, 12), ("A", "s", 80, 48)])
    r = selection_audit(sel, codes, grouping="broad")
    f = r.to_frame()
    assert {"stage", "group", "applicants", "selected", "rate", "impact_ratio", "ratio_ci_low", "p_value",
            "p_adjusted", "verdict_text", "outcome"} <= set(f.columns)
    assert len(f) == 6  # five broad groups + unknown
    d = r.to_dict()
    assert d["outcome"] == "BLOCK" and d["reasons"]
    assert {"schema", "regime", "grouping", "config", "n_rows", "stages", "outcome", "reasons", "findings",
            "data_quality", "results", "tables", "notes", "counts", "scores", "fairlearn_checked",
            "fairlearn_max_difference", "fairlearn_note"} == set(d)
    black = next(g for g in d["results"][0]["groups"] if g["group"] == "Black")
    assert black["verdict"] == "adverse_impact_significant" and black["outcome"] == "BLOCK"


def test_wres_over_a_full_funnel_uses_shortlisted_to_appointed():
    rng = np.random.default_rng(9)
    n = 3000
    codes = rng.choice(list("ABNH"), n)
    short = rng.random(n) < 0.4
    inter = short & (rng.random(n) < 0.6)
    appt = inter & (rng.random(n) < np.where(np.isin(codes, ["A", "B"]), 0.6, 0.3))
    r = selection_audit({"shortlisted": short, "interviewed": inter, "appointed": appt}, codes, regime="wres")
    ind = r.to_dict()["tables"]["indicator_2"]
    w = np.isin(codes, ["A", "B"])
    want = (appt[w].sum() / short[w].sum()) / (appt[~w].sum() / short[~w].sum())
    assert (ind["from_stage"], ind["stage"]) == ("shortlisted", "appointed")
    assert ind["relative_likelihood"] == pytest.approx(want)
    assert ind["verdict"] == "white_more_likely_significant" and r.outcome is Decision.BLOCK


def test_strata_hide_a_disadvantage_that_pooling_masks():
    # pooled N looks better than A, but within each site N does clearly worse
    cells = [("A", "easy", 50, 45), ("N", "easy", 400, 300), ("A", "hard", 400, 40), ("N", "hard", 50, 2)]
    sel, codes, strata = expand(cells)
    r = selection_audit(sel, codes, strata=strata, reference="A")
    n = group(r.regime.stages[0], "N")
    assert n.impact_ratio > 1 and n.stratified["ci_high"] < 1
    f = next(f for f in r.findings if f.code == "simpson")
    assert "significantly disadvantaged within strata" in f.message and r.outcome is Decision.REVIEW
