"""Statistics on counts: exact tests, intervals, multiplicity, power and small-number checks.

Everything takes counts (numpy arrays, vectorised over groups) and returns arrays. Where a
figure does not exist (a rate with no applicants, a ratio against a zero rate) the result is
``nan`` here; the regimes turn each ``nan`` into ``None`` with the reason in words.

Conventions: "group 1" is the group under audit (``x1`` selected of ``n1``), "group 2" the
comparator (the highest-rate group or a chosen reference). Tests are one-sided: *is group 1's
rate lower?*

Choices an expert will ask about:

* Fisher's exact test, one-sided: ``P(X <= x1)`` under the hypergeometric distribution given
  both margins; mid-p subtracts half the probability of the observed table. Boschloo's test
  (:func:`scipy.stats.boschloo_exact`, unconditional, more powerful, slow) only when asked.
* Rate intervals: Wilson score (default) or Clopper–Pearson exact; both stay in [0, 1] at n = 1.
* Impact-ratio interval: **Koopman's asymptotic score interval** (Koopman 1984), inverting the
  score test for ``p1 / p2 = θ`` (Miettinen–Nurminen without their N/(N−1) factor). It needs no
  continuity correction: with ``x1 = 0`` the lower limit is exactly 0, and with ``x2 = 0`` the
  upper limit is unbounded (reported as ``None``: "no upper limit").
* Multiplicity: Holm (default) controls the family-wise error; Benjamini–Hochberg the false
  discovery rate.
* Detectable ratio: a one-sided two-proportion z-test at ``alpha`` (pooled variance under H0,
  unpooled under H1, no continuity correction, comparator rate taken as observed). The result is
  the impact ratio the test would detect with the stated power; any lower ratio is detectable.
  It is an approximation and says so in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.special import ndtr, ndtri

_EPS = 1e-12


def _f(*xs):
    return [np.asarray(x, dtype=np.float64) for x in xs]


# --------------------------------------------------------------------------- exact tests
def fisher_lower(x1, n1, x2, n2, *, midp: bool = False) -> np.ndarray:
    """One-sided Fisher p-value that group 1's rate is lower (vectorised hypergeometric cdf)."""
    x1, n1, x2, n2 = (np.asarray(v, dtype=np.int64) for v in (x1, n1, x2, n2))
    total, sel = n1 + n2, x1 + x2
    with np.errstate(all="ignore"):
        p = sps.hypergeom.cdf(x1, total, sel, n1)
        if midp:
            p = p - 0.5 * sps.hypergeom.pmf(x1, total, sel, n1)
    p = np.where((n1 == 0) | (n2 == 0), np.nan, np.clip(p, 0.0, 1.0))
    return p


def boschloo_lower(x1, n1, x2, n2) -> np.ndarray:
    """One-sided Boschloo p-value (group 1 lower); slow, so only on request."""
    x1, n1, x2, n2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (x1, n1, x2, n2)))
    out = np.full(x1.shape, np.nan)
    for i in np.ndindex(x1.shape):
        if n1[i] > 0 and n2[i] > 0:
            if x1[i] + x2[i] in (0, n1[i] + n2[i]):
                out[i] = 1.0  # no one or everyone selected: nothing to test
            else:
                table = [[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]]
                out[i] = sps.boschloo_exact(table, alternative="less").pvalue
    return out


def lower_rate_test(x1, n1, x2, n2, method: str = "fisher") -> np.ndarray:
    """Dispatch on ``method``: ``fisher``, ``fisher_midp`` or ``boschloo``."""
    if method == "fisher":
        return fisher_lower(x1, n1, x2, n2)
    if method == "fisher_midp":
        return fisher_lower(x1, n1, x2, n2, midp=True)
    if method == "boschloo":
        return boschloo_lower(x1, n1, x2, n2)
    raise ValueError(f"unknown test {method!r}")


# --------------------------------------------------------------------------- rate intervals
def wilson_interval(x, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for x/n; nan where n == 0."""
    x, n = _f(x, n)
    z = ndtri(0.5 + confidence / 2)
    with np.errstate(all="ignore"):
        p = x / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    lo = np.where(x == 0, 0.0, lo)
    hi = np.where(x == n, 1.0, hi)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def clopper_pearson_interval(x, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson exact interval for x/n; nan where n == 0."""
    x, n = _f(x, n)
    a = 1 - confidence
    with np.errstate(all="ignore"):
        lo = np.where(x > 0, sps.beta.ppf(a / 2, x, n - x + 1), 0.0)
        hi = np.where(x < n, sps.beta.ppf(1 - a / 2, x + 1, n - x), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def rate_interval(x, n, confidence: float = 0.95, method: str = "wilson"):
    if method == "wilson":
        return wilson_interval(x, n, confidence)
    if method == "clopper_pearson":
        return clopper_pearson_interval(x, n, confidence)
    raise ValueError(f"unknown rate interval {method!r}")


# --------------------------------------------------------------------------- ratio interval
def _koopman_z(theta, x1, n1, x2, n2):
    """Score statistic for H0: p1 = theta * p2 (decreasing in theta)."""
    big_n, x = n1 + n2, x1 + x2
    a = big_n * theta
    b = -(n1 * theta + x1 + n2 + x2 * theta)
    c = x
    disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
    p2t = (-b - disc) / (2 * a)
    p2t = np.clip(p2t, 0.0, 1.0)
    p1t = np.clip(theta * p2t, 0.0, 1.0)
    var = p1t * (1 - p1t) / n1 + theta * theta * p2t * (1 - p2t) / n2
    num = x1 / n1 - theta * x2 / n2
    return num / np.sqrt(np.maximum(var, 1e-300))


def koopman_ratio_interval(x1, n1, x2, n2, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Koopman score interval for (x1/n1) / (x2/n2).

    Lower limit 0 when x1 == 0; upper limit ``inf`` when x2 == 0; nan when n1 or n2 is 0 or
    both counts are 0 (the ratio is undefined).
    """
    x1, n1, x2, n2 = np.broadcast_arrays(*_f(x1, n1, x2, n2))
    zc = ndtri(0.5 + confidence / 2)
    ok = (n1 > 0) & (n2 > 0) & ((x1 + x2) > 0)
    # safe dummies where undefined
    sx1, sn1, sx2, sn2 = (np.where(ok, v, d) for v, d in ((x1, 1.0), (n1, 2.0), (x2, 1.0), (n2, 2.0)))
    lo_t, hi_t = np.log(1e-10), np.log(1e10)

    # solve z(theta) = +zc (lower limit) and -zc (upper limit) together by bisection on log(theta)
    target = np.stack([np.full(sx1.shape, zc), np.full(sx1.shape, -zc)])
    args = [np.broadcast_to(v, target.shape) for v in (sx1, sn1, sx2, sn2)]
    lo, hi = np.full(target.shape, lo_t), np.full(target.shape, hi_t)
    with np.errstate(all="ignore"):
        for _ in range(56):  # 46 / 2**56 in log(theta): far below display precision
            mid = (lo + hi) / 2
            go_right = _koopman_z(np.exp(mid), *args) > target
            lo, hi = np.where(go_right, mid, lo), np.where(go_right, hi, mid)
    lower, upper = np.exp((lo + hi) / 2)
    lower = np.where(sx1 == 0, 0.0, lower)
    upper = np.where(sx2 == 0, np.inf, upper)
    return np.where(ok, lower, np.nan), np.where(ok, upper, np.nan)


# --------------------------------------------------------------------------- multiplicity
def adjust_pvalues(p, method: str = "holm") -> np.ndarray:
    """Holm or Benjamini–Hochberg adjusted p-values; nan entries are left out and stay nan."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    order = np.argsort(q, kind="mergesort")
    ranked = q[order]
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ranked))
    elif method in ("bh", "fdr_bh"):
        adj = np.minimum.accumulate(np.minimum(1.0, m / np.arange(1, m + 1) * ranked)[::-1])[::-1]
    else:
        raise ValueError(f"unknown adjustment {method!r}")
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


# --------------------------------------------------------------------------- power
def _power(r, n1, n2, p2, za, zb_unused=None):
    p1 = r * p2
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    se0 = np.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    se1 = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return ndtr((p2 - p1 - za * se0) / np.maximum(se1, 1e-300))


def detectable_ratio(n1, n2, p2, *, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """Impact ratio detectable with ``power`` by a one-sided test at ``alpha`` (normal approximation).

    nan when even a ratio of 0 (no one in the group selected) would not reach that power, or
    when a count or the comparator rate is 0.
    """
    n1, n2, p2 = np.broadcast_arrays(*_f(n1, n2, p2))
    za = ndtri(1 - alpha)
    ok = (n1 > 0) & (n2 > 0) & (p2 > 0)
    sn1, sn2, sp2 = np.where(ok, n1, 1.0), np.where(ok, n2, 1.0), np.where(ok, p2, 0.5)
    with np.errstate(all="ignore"):
        reachable = _power(np.zeros_like(sn1), sn1, sn2, sp2, za) >= power
        lo, hi = np.zeros_like(sn1), np.ones_like(sn1)
        for _ in range(42):  # 2**-42 of the ratio scale
            mid = (lo + hi) / 2
            enough = _power(mid, sn1, sn2, sp2, za) >= power
            lo, hi = np.where(enough, mid, lo), np.where(enough, hi, mid)
    return np.where(ok & reachable, lo, np.nan)


# --------------------------------------------------------------------------- small numbers
def shortfall(x1, n1, x2, n2, threshold: float = 0.8) -> np.ndarray:
    """Extra selections group 1 needs for (x1+k)/n1 >= threshold * x2/n2 (comparator fixed); -1 if n1 == 0."""
    x1, n1, x2, n2 = (np.asarray(v, dtype=np.int64) for v in (x1, n1, x2, n2))
    with np.errstate(all="ignore"):
        need = threshold * x2 * n1 / np.where(n2 > 0, n2, 1)
    k = np.ceil(need - 1e-9).astype(np.int64) - x1
    k = np.maximum(k, 0)
    return np.where((n1 > 0) & (n2 > 0), k, -1)


# --------------------------------------------------------------------------- strata
@dataclass(frozen=True)
class StratifiedResult:
    """Mantel–Haenszel pooling of 2×2 tables ``[[a, b], [c, d]]`` (group selected/not, reference selected/not)."""

    strata_used: int
    odds_ratio: float
    ci_low: float
    ci_high: float
    cmh_statistic: float
    cmh_pvalue: float
    breslow_day_statistic: float
    breslow_day_pvalue: float
    tarone_statistic: float
    tarone_pvalue: float


def mantel_haenszel(a, b, c, d, confidence: float = 0.95, correction: bool = False) -> StratifiedResult:
    """Mantel–Haenszel OR (Robins–Breslow–Greenland CI), CMH test, Breslow–Day and Tarone tests.

    Strata where either row or column total is zero carry no information and are left out
    (``strata_used`` says how many were kept). Same formulas as
    :class:`statsmodels.stats.contingency_tables.StratifiedTable`.
    """
    a, b, c, d = _f(a, b, c, d)
    keep = ((a + b) > 0) & ((c + d) > 0) & ((a + c) > 0) & ((b + d) > 0)
    a, b, c, d = a[keep], b[keep], c[keep], d[keep]
    k = int(a.size)
    nan = float("nan")
    if k == 0:
        return StratifiedResult(0, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    n = a + b + c + d
    with np.errstate(all="ignore"):
        ad, bc = a * d / n, b * c / n
        r, s = ad.sum(), bc.sum()
        or_mh = r / s if s > 0 else np.inf
        p_, q_ = (a + d) / n, (b + c) / n
        var = (np.sum(p_ * ad) / (2 * r * r) + np.sum(p_ * bc + q_ * ad) / (2 * r * s)
               + np.sum(q_ * bc) / (2 * s * s))
        z = ndtri(0.5 + confidence / 2)
        lo, hi = np.exp(np.log(or_mh) - z * np.sqrt(var)), np.exp(np.log(or_mh) + z * np.sqrt(var))
        apb, apc, bpd, cpd = a + b, a + c, b + d, c + d
        dev = abs(np.sum(a - apb * apc / n))
        if correction:
            dev = max(dev - 0.5, 0.0)
        cmh_var = np.sum(apb * apc * bpd * cpd / (n * n * (n - 1)))
        cmh = dev * dev / cmh_var
        cmh_p = float(sps.chi2.sf(cmh, 1))
        # Breslow–Day: expected a under the common OR, from a quadratic in each stratum
        dma = d - a  # n - r1 - c1 = d - a
        qa = 1 - or_mh
        qb = or_mh * (apb + apc) + dma
        qc = -or_mh * apb * apc
        e11 = np.where(np.abs(qa) > _EPS, (-qb + np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa), -qc / qb)
        v11 = 1 / (1 / e11 + 1 / (apc - e11) + 1 / (apb - e11) + 1 / (dma + e11))
        bd = float(np.sum((a - e11) ** 2 / v11))
        tarone = bd - (a.sum() - e11.sum()) ** 2 / v11.sum()
    df = k - 1
    bd_p = float(sps.chi2.sf(bd, df)) if df > 0 else nan
    ta_p = float(sps.chi2.sf(tarone, df)) if df > 0 else nan
    return StratifiedResult(k, float(or_mh), float(lo), float(hi), float(cmh), cmh_p,
                            bd if df > 0 else nan, bd_p, float(tarone) if df > 0 else nan, ta_p)
