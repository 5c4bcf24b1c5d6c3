"""vbr's arithmetic on counts against independent oracles: scipy and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from vbr.fairness import stats

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def two_by_two(draw, max_n=60):
    n1 = draw(st.integers(1, max_n))
    n2 = draw(st.integers(1, max_n))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


@FAST
@given(two_by_two())
def test_fisher_matches_scipy(t):
    x1, n1, x2, n2 = t
    want = sps.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="less").pvalue
    assert stats.fisher_lower(x1, n1, x2, n2)[()] == pytest.approx(want, rel=1e-9, abs=1e-12)


@FAST
@given(two_by_two())
def test_midp_is_fisher_minus_half_the_observed_table(t):
    x1, n1, x2, n2 = t
    p = stats.fisher_lower(x1, n1, x2, n2)[()]
    mid = stats.fisher_lower(x1, n1, x2, n2, midp=True)[()]
    pmf = sps.hypergeom.pmf(x1, n1 + n2, x1 + x2, n1)
    assert mid == pytest.approx(p - pmf / 2, abs=1e-12)
    assert 0 <= mid <= p <= 1


@settings(max_examples=6, deadline=None)
@given(two_by_two(max_n=15))
def test_boschloo_matches_scipy(t):
    x1, n1, x2, n2 = t
    if x1 + x2 in (0, n1 + n2):
        return  # nothing to test; vbr reports 1.0 there
    want = sps.boschloo_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="less").pvalue
    assert stats.boschloo_lower(x1, n1, x2, n2)[()] == pytest.approx(want, rel=1e-6)


@FAST
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.9, 0.95, 0.99]))
def test_rate_intervals_match_statsmodels_and_scipy(xn, conf):
    x, n = xn
    lo, hi = stats.wilson_interval(x, n, conf)
    wlo, whi = proportion_confint(x, n, alpha=1 - conf, method="wilson")
    assert (lo[()], hi[()]) == pytest.approx((wlo, whi), abs=1e-9)
    lo, hi = stats.clopper_pearson_interval(x, n, conf)
    ci = sps.binomtest(x, n).proportion_ci(confidence_level=conf, method="exact")
    assert (lo[()], hi[()]) == pytest.approx((ci.low, ci.high), abs=1e-9)
    for lo, hi in (stats.wilson_interval(x, n, conf), stats.clopper_pearson_interval(x, n, conf)):
        assert 0 <= lo[()] <= x / n <= hi[()] <= 1


@FAST
@given(two_by_two(max_n=300))
def test_koopman_matches_statsmodels_score_without_correction(t):
    x1, n1, x2, n2 = t
    lo, hi = stats.koopman_ratio_interval(x1, n1, x2, n2)
    if 0 < x1 < n1 and 0 < x2 < n2:  # statsmodels is unreliable at the boundaries (complex roots)
        want = confint_proportions_2indep(x1, n1, x2, n2, method="score", compare="ratio", correction=False)
        assert lo[()] == pytest.approx(want[0], rel=1e-6)
        assert hi[()] == pytest.approx(want[1], rel=1e-6)
    if x1 + x2 > 0:
        ratio = (x1 / n1) / (x2 / n2) if x2 else np.inf
        assert 0 <= lo[()] <= ratio <= hi[()]
    if x1 == 0 and x2 > 0:
        assert lo[()] == 0.0
    if x2 == 0 and x1 > 0:
        assert np.isinf(hi[()])


def test_koopman_undefined_when_no_one_selected():
    lo, hi = stats.koopman_ratio_interval([0, 3], [5, 0], [0, 2], [7, 4])
    assert np.isnan(lo).all() and np.isnan(hi).all()


@FAST
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=20), st.sampled_from(["holm", "bh"]))
def test_adjustment_matches_multipletests(p, method):
    want = multipletests(p, method={"holm": "holm", "bh": "fdr_bh"}[method])[1]
    assert stats.adjust_pvalues(p, method) == pytest.approx(want, abs=1e-12)


def test_adjustment_leaves_nan_out():
    got = stats.adjust_pvalues([0.01, np.nan, 0.04], "holm")
    assert got[0] == pytest.approx(0.02) and np.isnan(got[1]) and got[2] == pytest.approx(0.04)


@st.composite
def strata(draw):
    k = draw(st.integers(2, 6))
    cells = draw(st.lists(st.tuples(*[st.integers(1, 40)] * 4), min_size=k, max_size=k))
    return np.array(cells, dtype=float).T


@FAST
@given(strata())
def test_mantel_haenszel_matches_statsmodels(cells):
    a, b, c, d = cells
    res = stats.mantel_haenszel(a, b, c, d)
    tab = StratifiedTable(np.stack([np.array([[a[i], b[i]], [c[i], d[i]]]) for i in range(a.size)], axis=2))
    assert res.odds_ratio == pytest.approx(tab.oddsratio_pooled, rel=1e-9)
    assert (res.ci_low, res.ci_high) == pytest.approx(tab.oddsratio_pooled_confint(), rel=1e-9)
    null = tab.test_null_odds()
    assert res.cmh_statistic == pytest.approx(null.statistic, rel=1e-9)
    assert res.cmh_pvalue == pytest.approx(null.pvalue, rel=1e-6, abs=1e-12)
    bd, ta = tab.test_equal_odds(), tab.test_equal_odds(adjust=True)
    if not np.isfinite(bd.statistic):  # statsmodels divides by 1 - OR; vbr solves the linear case at OR = 1
        assert res.odds_ratio == pytest.approx(1.0) and np.isfinite(res.breslow_day_statistic)
        return
    assert res.breslow_day_statistic == pytest.approx(bd.statistic, rel=1e-7, abs=1e-10)
    assert res.tarone_statistic == pytest.approx(ta.statistic, rel=1e-7, abs=1e-10)
    assert res.tarone_pvalue == pytest.approx(ta.pvalue, rel=1e-6, abs=1e-10)


def test_mantel_haenszel_drops_uninformative_strata():
    res = stats.mantel_haenszel([5, 0, 3], [5, 0, 7], [8, 4, 6], [2, 6, 4])
    assert res.strata_used == 2


def test_shortfall_textbook():
    # 12 of 40 vs 48 of 80: 0.8 * 0.6 * 40 = 19.2 -> 20 selections needed, 8 more
    assert stats.shortfall(12, 40, 48, 80).tolist() == 8
    assert stats.shortfall(34, 76, 50, 92).tolist() == 0


def test_detectable_ratio_reaches_the_stated_power():
    n1, n2, p2 = 40, 80, 0.6
    r = stats.detectable_ratio(n1, n2, p2)[()]
    assert 0 < r < 1
    # simulate the normal-approximation power at r: about 0.80
    za = sps.norm.ppf(0.95)
    p1 = r * p2
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    z = (p2 - p1 - za * np.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))) / np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert sps.norm.cdf(z) == pytest.approx(0.8, abs=1e-6)
    # bigger groups detect ratios closer to 1
    assert stats.detectable_ratio(400, 800, p2)[()] > r
    # five applicants at a 40 % comparison rate: not even zero selections reach 80 % power
    assert np.isnan(stats.detectable_ratio(3, 95, 40 / 95)[()])
