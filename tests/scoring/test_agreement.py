"""Agreement statistics against published worked examples and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from vbr.scoring.agreement import (
    adjacent_agreement,
    bootstrap_ci,
    exact_agreement,
    icc,
    icc_label,
    krippendorff_alpha,
    pair_agreement,
    quadratic_weighted_kappa,
    qwk_label,
    standardised_mean_difference,
    validation_report,
)

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def test_icc_shrout_fleiss_table_2():
    r = icc(SHROUT_FLEISS)
    # the paper's Table 3 / text: ICC(2,1) = .29, ICC(2,4) = .62
    assert round(r.single.estimate, 2) == 0.29
    assert round(r.average.estimate, 2) == 0.62
    # its ANOVA table (Table 2): BMS 11.24, JMS 32.49, EMS 1.02
    assert r.ms_rows == pytest.approx(11.24, abs=0.01)
    assert r.ms_cols == pytest.approx(32.49, abs=0.01)
    assert r.ms_error == pytest.approx(1.02, abs=0.01)
    assert (r.n_items, r.n_raters, r.n_dropped) == (6, 4, 0)
    assert r.single_label == "poor" and r.average_label == "moderate"


def test_icc_by_hand_from_the_anova_formulas():
    R = np.array(SHROUT_FLEISS, dtype=float)
    n, k = R.shape
    g = R.mean()
    msr = k * ((R.mean(1) - g) ** 2).sum() / (n - 1)
    msc = n * ((R.mean(0) - g) ** 2).sum() / (k - 1)
    mse = (((R - R.mean(1, keepdims=True) - R.mean(0, keepdims=True) + g) ** 2).sum()
           / ((n - 1) * (k - 1)))
    want1 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    wantk = (msr - mse) / (msr + (msc - mse) / n)
    r = icc(R)
    assert r.single.estimate == pytest.approx(want1, rel=1e-12)
    assert r.average.estimate == pytest.approx(wantk, rel=1e-12)


def test_icc_interval_brackets_the_estimate_and_matches_published_bounds():
    r = icc(SHROUT_FLEISS)
    assert r.single.lower < r.single.estimate < r.single.upper
    assert r.average.lower < r.average.estimate < r.average.upper
    # McGraw & Wong interval for this table (as also given by e.g. R psych::ICC): .02-.76, .07-.93
    assert r.single.lower == pytest.approx(0.02, abs=0.01)
    assert r.single.upper == pytest.approx(0.76, abs=0.01)
    assert r.average.lower == pytest.approx(0.07, abs=0.01)
    assert r.average.upper == pytest.approx(0.93, abs=0.01)


def test_icc_drops_items_with_missing_ratings_and_rejects_bad_tables():
    R = [row[:] for row in SHROUT_FLEISS] + [[1, None, 3, 4]]
    R = np.array([[np.nan if v is None else v for v in row] for row in R], dtype=float)
    r = icc(R)
    assert r.n_dropped == 1 and r.n_items == 6
    assert round(r.single.estimate, 2) == 0.29
    with pytest.raises(ValueError):
        icc([[1], [2], [3]])
    with pytest.raises(ValueError):
        icc([[2, 2], [2, 2]])


def test_icc_perfect_agreement_is_one():
    r = icc([[1, 1, 1], [2, 2, 2], [4, 4, 4]])
    assert r.single.estimate == pytest.approx(1.0)
    assert r.single_label == "excellent"


# Krippendorff (2011) "Computing Krippendorff's alpha-reliability", the worked example:
# 4 observers x 12 units with missing values. Published: nominal .743, ordinal .815,
# interval .849.
_ = np.nan
KRIPP = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]).T


@pytest.mark.parametrize("metric,want", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_published_example(metric, want):
    a = krippendorff_alpha(KRIPP, metric, n_boot=200)
    assert round(a.estimate, 3) == want
    assert a.lower <= a.estimate <= a.upper
    again = krippendorff_alpha(KRIPP, metric, n_boot=200)
    assert (again.lower, again.upper) == (a.lower, a.upper)  # fixed seed


def test_krippendorff_accepts_none_and_rejects_unknown_metric():
    rows = [[1, 1, None], [2, 2, 2], [3, 3, 3], [1, 2, None]]
    assert -1.0 <= krippendorff_alpha(rows, "interval", n_boot=50).estimate <= 1.0
    with pytest.raises(ValueError):
        krippendorff_alpha(rows, "ratio")


def test_krippendorff_interval_two_raters_complete_close_to_icc_style_agreement():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 5, 300)
    noisy = np.clip(truth + rng.integers(-1, 2, 300), 0, 4)
    a = krippendorff_alpha(np.column_stack([truth, noisy]), "interval", n_boot=100).estimate
    assert 0.7 < a < 1.0


ratings = st.lists(st.integers(0, 4), min_size=2, max_size=60)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_qwk_matches_sklearn_and_is_symmetric_and_bounded(data):
    a = data.draw(ratings)
    b = data.draw(st.lists(st.integers(0, 4), min_size=len(a), max_size=len(a)))
    q = quadratic_weighted_kappa(a, b)
    assert -1.0 - 1e-12 <= q <= 1.0 + 1e-12
    assert q == pytest.approx(quadratic_weighted_kappa(b, a), abs=1e-12)
    # the weights are distances on the rating scale, so sklearn is given every level in range
    scale = list(range(min(a + b), max(a + b) + 1))
    ref = cohen_kappa_score(a, b, weights="quadratic", labels=scale)
    if math.isnan(ref):  # sklearn: both raters gave one and the same level throughout
        assert len(set(a) | set(b)) == 1 and q == 1.0
    else:
        assert q == pytest.approx(ref, abs=1e-9)
        if len(set(a)) > 1 and set(a) == set(b) == set(scale):
            assert q == pytest.approx(cohen_kappa_score(a, b, weights="quadratic"), abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=2, max_size=40))
def test_qwk_of_a_rater_with_itself_is_one(a):
    assert quadratic_weighted_kappa(a, a) == 1.0


def test_qwk_rejects_non_integers_and_unequal_lengths():
    with pytest.raises(ValueError):
        quadratic_weighted_kappa([1, 2.5], [1, 2])
    with pytest.raises(ValueError):
        quadratic_weighted_kappa([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        quadratic_weighted_kappa([], [])


def test_exact_adjacent_and_smd():
    a = [0, 1, 2, 3, 4]
    b = [0, 2, 2, 1, 4]
    assert exact_agreement(a, b) == pytest.approx(0.6)
    assert adjacent_agreement(a, b) == pytest.approx(0.8)
    assert adjacent_agreement(a, b, tolerance=2) == 1.0
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = x + 1.0
    sd = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    assert standardised_mean_difference(y, x) == pytest.approx(1.0 / sd)
    assert standardised_mean_difference(x, y) == pytest.approx(-1.0 / sd)
    assert standardised_mean_difference([2, 2], [2, 2]) == 0.0


def test_labels_follow_domain_thresholds():
    assert qwk_label(0.59) == "below acceptable"
    assert qwk_label(0.60) == "acceptable"
    assert qwk_label(0.80) == "strong"
    assert icc_label(0.49) == "poor"
    assert icc_label(0.50) == "moderate"
    assert icc_label(0.75) == "good"
    assert icc_label(0.90) == "good"
    assert icc_label(0.91) == "excellent"


def test_bootstrap_is_reproducible_and_brackets_estimate():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 200)
    b = np.clip(a + rng.integers(-1, 2, 200), 0, 3)
    one = bootstrap_ci(quadratic_weighted_kappa, a, b, n_boot=300)
    two = bootstrap_ci(quadratic_weighted_kappa, a, b, n_boot=300)
    assert one == two
    assert one.lower <= one.estimate <= one.upper
    assert one.upper - one.lower > 0


def _noisy(truth, rng, p):
    flip = rng.random(truth.size) < p
    return np.where(flip, np.clip(truth + rng.choice([-1, 1], truth.size), 0, 4), truth)


def test_validation_report_unsupervised_when_every_criterion_holds():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 5, 400)
    h1 = truth
    h2 = _noisy(truth, rng, 0.15)
    model = _noisy(truth, rng, 0.15)
    rep = validation_report(model, h1, h2, n_boot=200)
    assert rep.model_human.qwk.estimate >= 0.7
    assert rep.verdict == "unsupervised", rep.reasons
    assert rep.qwk_drop is not None and rep.qwk_drop <= 0.10
    assert all(isinstance(r, str) and r for r in rep.reasons)


def test_validation_report_without_second_rater_needs_review():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 5, 400)
    rep = validation_report(_noisy(truth, rng, 0.1), truth, n_boot=100)
    assert rep.verdict == "with review"
    assert any("second human" in r for r in rep.reasons)


def test_validation_report_not_usable_when_agreement_is_poor():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 5, 300)
    rep = validation_report(rng.integers(0, 5, 300), truth, truth, n_boot=100)
    assert rep.verdict == "not usable"
    assert any("should not be used" in r for r in rep.reasons)


def test_validation_report_flags_a_biased_subgroup_and_a_biased_mean():
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 4, 600)
    groups = np.where(np.arange(600) % 3 == 0, "g1", "g2")
    model = truth.copy()
    # the scorer marks group g1 one level lower on half its answers
    hit = (groups == "g1") & (rng.random(600) < 0.5) & (truth > 0)
    model[hit] -= 1
    rep = validation_report(model, truth, truth, groups=list(groups), n_boot=100)
    flagged = {c.group for c in rep.subgroups if c.flagged}
    assert "g1" in flagged
    assert rep.verdict != "unsupervised"

    shifted = np.clip(truth + 1, 0, 4)
    rep2 = validation_report(shifted, truth, truth, n_boot=100)
    assert rep2.smd > 0.15
    assert rep2.verdict != "unsupervised"
    assert any("higher than the humans" in r for r in rep2.reasons)


def test_validation_report_small_sample_is_never_unsupervised():
    rep = validation_report([0, 1, 2, 3] * 5, [0, 1, 2, 3] * 5, [0, 1, 2, 3] * 5, n_boot=50)
    assert rep.verdict == "with review"


def test_pair_agreement_fields():
    pa = pair_agreement([0, 1, 2, 3, 3], [0, 1, 2, 2, 3], n_boot=50)
    assert pa.n == 5
    assert pa.exact.estimate == pytest.approx(0.8)
    assert pa.qwk_label in ("strong", "acceptable", "below acceptable")



def test_validation_report_with_a_second_rater_who_marked_a_sample():
    """Human-human agreement on the items both humans marked, set against the scorer's on those
    same items; with every item marked it is the report it always was."""
    from vbr.scoring.agreement import pair_agreement, validation_report

    rng = np.random.default_rng(5)
    h1 = rng.integers(0, 4, 200)
    model = np.clip(h1 + rng.choice([0, 0, 0, 1, -1], 200), 0, 3)
    h2 = np.clip(h1 + rng.choice([0, 0, 0, 0, 1, -1], 200), 0, 3).astype(float)
    full = validation_report(model, h1, h2, n_boot=50)
    sample = h2.copy()
    sample[::2] = np.nan
    part = validation_report(model, h1, sample, n_boot=50)
    marked = ~np.isnan(sample)
    hh = pair_agreement(h1[marked], sample[marked].astype(int), n_boot=50)
    mh_same = pair_agreement(h1[marked], model[marked], n_boot=50)
    assert part.human_human.n == 100 and part.human_human.qwk.estimate == pytest.approx(hh.qwk.estimate)
    assert part.qwk_drop == pytest.approx(hh.qwk.estimate - mh_same.qwk.estimate)
    assert part.model_human.n == 200 and part.model_human == full.model_human
    assert any("on the 100 answers both marked" in r for r in part.reasons)
    assert full.human_human.n == 200 and not any("both marked" in r for r in full.reasons)
    none = validation_report(model, h1, np.full(200, np.nan), n_boot=50)
    assert none.human_human is None and none.verdict != "unsupervised"
