"""The worked numbers of shared/docs/fairness.md §5, through the public API."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vbr.fairness import AuditConfig, selection_audit
from vbr.models import Decision


def rows(x1, n1, x2, n2, low="N", high="A"):
    """Row-level data: group ``low`` selects x1 of n1, group ``high`` x2 of n2 (shuffled)."""
    sel = np.r_[np.ones(x1), np.zeros(n1 - x1), np.ones(x2), np.zeros(n2 - x2)].astype(int)
    grp = np.array([low] * n1 + [high] * n2, dtype=object)
    order = np.random.default_rng(7).permutation(len(sel))
    return sel[order], grp[order]


def low_row(result, group="N"):
    stage = result.regime.stages[0]
    return next(r for r in stage.groups if r.group == group)


CASES = [
    # x1, n1, x2, n2, ratio, digits, fisher p, boschloo p, verdict, outcome
    (12, 40, 48, 80, 0.500, 3, 0.0017046, None, "adverse_impact_significant", Decision.BLOCK),
    (2, 10, 117, 389, 0.6650, 4, 0.38514, 0.34582, "below_threshold_not_significant", Decision.REVIEW),
    (1, 5, 40, 95, 0.4750, 4, 0.31435, 0.24759, "too_few", Decision.REVIEW),
    (34, 76, 50, 92, 0.8232, 4, 0.13893, None, "no_adverse_impact", Decision.PASS),
]


@pytest.mark.parametrize("x1,n1,x2,n2,ratio,digits,p,boschloo,verdict,outcome", CASES)
def test_worked_case(x1, n1, x2, n2, ratio, digits, p, boschloo, verdict, outcome):
    result = selection_audit(*rows(x1, n1, x2, n2))
    r = low_row(result)
    assert round(r.impact_ratio, digits) == ratio
    assert r.p_value == pytest.approx(p, abs=5e-8 if p < 0.01 else 5e-6)
    assert r.p_adjusted == pytest.approx(r.p_value)  # one comparison: Holm changes nothing
    assert r.verdict == verdict
    assert r.outcome is outcome
    assert result.outcome is outcome
    assert result.regime.stages[0].reference == "A"
    json.dumps(result.to_dict(), allow_nan=False)
    if boschloo is not None:
        rb = low_row(selection_audit(*rows(x1, n1, x2, n2), config=AuditConfig(test="boschloo")))
        assert rb.p_value == pytest.approx(boschloo, abs=5e-6)


def test_textbook_words_and_small_number_checks():
    r = low_row(selection_audit(*rows(12, 40, 48, 80)))
    assert r.verdict_text.startswith("adverse impact, statistically significant")
    # shortfall: 0.8 * 0.6 * 40 = 19.2, so 20 selections, 8 more than 12
    assert r.shortfall == 8
    assert r.flip_flop is False
    lo, hi = r.ratio_ci
    assert lo < 0.5 < hi < 0.8


def test_small_shortlist_words():
    r = low_row(selection_audit(*rows(2, 10, 117, 389)))
    assert r.verdict_text.startswith("ratio below 0.80 but not statistically significant: review")


def test_tiny_group_is_too_few():
    r = low_row(selection_audit(*rows(1, 5, 40, 95)))
    assert "too few applicants to conclude" in r.verdict_text
    # even no selections at all (0 of 5) would not be significant, so the detectable ratio is tiny or absent
    assert r.detectable_ratio is None or r.detectable_ratio < 0.1


def test_near_the_line_passes():
    result = selection_audit(*rows(34, 76, 50, 92))
    r = low_row(result)
    assert r.verdict_text == "no adverse impact"
    assert result.outcome is Decision.PASS


def test_wres_relative_likelihood_small_shortlist():
    # White = 117/389 (code A), BME = 2/10 (code N): RL = (117/389) / (2/10) = 1.504
    sel, grp = rows(2, 10, 117, 389)
    result = selection_audit(sel, grp, regime="wres")
    ind = result.to_dict()["tables"]["indicator_2"]
    assert round(ind["relative_likelihood"], 3) == 1.504
    assert ind["ci_low"] < 1 < ind["ci_high"]
    assert ind["verdict"] == "white_more_likely_not_significant"
    assert result.outcome is Decision.REVIEW


def test_all_pairs_family_allows_for_choosing_the_highest_group():
    # two groups: one pair, tested two-sided (twice the one-sided p); the verdict stands
    result = selection_audit(*rows(12, 40, 48, 80), config={"test_family": "all_pairs"})
    r = low_row(result)
    assert r.p_value == pytest.approx(0.0017046, abs=5e-8)
    assert r.p_adjusted == pytest.approx(2 * r.p_value)
    assert r.verdict == "adverse_impact_significant"
