"""Agreement between raters, human or machine, and the validation report for a scorer.

Statistics (each with an interval):

* quadratic weighted kappa (QWK), exact and adjacent agreement - bootstrap over items;
* ICC two-way random effects, absolute agreement, single rater ICC(2,1) and average of k
  raters ICC(2,k) (Shrout & Fleiss 1979) - analytic F-based interval (McGraw & Wong 1996);
* Krippendorff's alpha, interval, ordinal or nominal metric, any number of raters, missing
  ratings allowed - bootstrap over items;
* standardised mean difference (SMD) of one rater against another.

Labels follow ../shared/docs/domain.md section 3: QWK >= 0.60 acceptable, >= 0.80 strong;
ICC (Koo & Li 2016) < 0.50 poor, 0.50-0.75 moderate, 0.75-0.90 good, > 0.90 excellent.
:func:`validation_report` applies the automated-scoring criteria there (Williamson, Xi &
Breyer 2012) and says whether a scorer may be used unsupervised, with review, or not at all.

Every bootstrap uses a fixed seed, so the same ratings always give the same interval.
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Literal, Sequence

import numpy as np
from pydantic import Field
from scipy import stats

from vbr.models import Frozen

__all__ = [
    "quadratic_weighted_kappa", "qwk", "exact_agreement", "adjacent_agreement",
    "standardised_mean_difference", "icc", "krippendorff_alpha", "bootstrap_ci",
    "qwk_label", "icc_label", "Interval", "ICCResult", "PairAgreement", "SubgroupCheck",
    "ValidationReport", "pair_agreement", "validation_report",
    "MODEL_QWK_MIN", "MAX_QWK_DROP", "MAX_SMD", "MAX_SUBGROUP_SMD_GAP", "NOT_USABLE_QWK",
]

# automated-vs-human criteria from domain.md section 3 (Williamson, Xi & Breyer 2012)
MODEL_QWK_MIN = 0.70
MAX_QWK_DROP = 0.10
MAX_SMD = 0.15
MAX_SUBGROUP_SMD_GAP = 0.10
# below the domain's "acceptable" QWK a scorer is not usable even with review
NOT_USABLE_QWK = 0.60
# fewer items than this and no verdict can be "unsupervised": the intervals are too wide
MIN_ITEMS_UNSUPERVISED = 50

# --------------------------------------------------------------------------- input checks


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"the two sets of ratings differ in length ({x.size} and {y.size})")
    if x.size == 0:
        raise ValueError("no ratings to compare")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("ratings contain missing or infinite values; drop those items first")
    return x, y


def _int_pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _pair(a, b)
    if not (np.all(x == np.round(x)) and np.all(y == np.round(y))):
        raise ValueError("kappa needs whole-number levels (e.g. 0-4)")
    return x.astype(np.int64), y.astype(np.int64)


# --------------------------------------------------------------------------- pairwise


def quadratic_weighted_kappa(a: Any, b: Any, min_level: int | None = None,
                             max_level: int | None = None) -> float:
    """Quadratic weighted kappa of two integer ratings of the same items.

    Weights are squared distances on the rating scale ``min_level..max_level`` (by default the
    range of levels either rater used), so this equals ``sklearn.metrics.cohen_kappa_score(a, b,
    weights="quadratic", labels=range(min_level, max_level + 1))`` - and sklearn without
    ``labels`` whenever every level in that range occurs. When both raters give one and the
    same level throughout, returns 1.0 (sklearn returns NaN there).
    """
    x, y = _int_pair(a, b)
    lo = int(min(x.min(), y.min())) if min_level is None else int(min_level)
    hi = int(max(x.max(), y.max())) if max_level is None else int(max_level)
    if x.min() < lo or y.min() < lo or x.max() > hi or y.max() > hi:
        raise ValueError(f"a rating lies outside the scale {lo}-{hi}")
    k = hi - lo + 1
    conf = np.bincount((x - lo) * k + (y - lo), minlength=k * k).reshape(k, k).astype(float)
    idx = np.arange(k)
    w = (idx[:, None] - idx[None, :]) ** 2
    expected = np.outer(conf.sum(1), conf.sum(0)) / conf.sum()
    den = float((w * expected).sum())
    num = float((w * conf).sum())
    if den == 0:
        return 1.0 if num == 0 else 0.0
    return 1.0 - num / den


qwk = quadratic_weighted_kappa


def exact_agreement(a: Any, b: Any) -> float:
    """Share of items on which both raters gave the same level."""
    x, y = _pair(a, b)
    return float(np.mean(x == y))


def adjacent_agreement(a: Any, b: Any, tolerance: int = 1) -> float:
    """Share of items on which the raters differ by at most ``tolerance`` levels."""
    x, y = _pair(a, b)
    return float(np.mean(np.abs(x - y) <= tolerance))


def standardised_mean_difference(model: Any, human: Any) -> float:
    """(mean of ``model`` - mean of ``human``) / pooled standard deviation.

    The pooled SD is sqrt((var_model + var_human) / 2), as in Williamson, Xi & Breyer (2012).
    Returns 0.0 when both are constant and equal, +-inf when constant and different.
    """
    x, y = _pair(model, human)
    diff = float(x.mean() - y.mean())
    pooled = math.sqrt((float(x.var(ddof=1 if x.size > 1 else 0))
                        + float(y.var(ddof=1 if y.size > 1 else 0))) / 2.0)
    if pooled == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / pooled


# --------------------------------------------------------------------------- labels


def qwk_label(value: float) -> str:
    """domain.md: >= 0.80 strong, >= 0.60 acceptable, otherwise below acceptable."""
    if value >= 0.80:
        return "strong"
    if value >= 0.60:
        return "acceptable"
    return "below acceptable"


def icc_label(value: float) -> str:
    """Koo & Li (2016): < 0.50 poor, 0.50-0.75 moderate, 0.75-0.90 good, > 0.90 excellent."""
    if value < 0.50:
        return "poor"
    if value < 0.75:
        return "moderate"
    if value <= 0.90:
        return "good"
    return "excellent"


# --------------------------------------------------------------------------- intervals


class Interval(Frozen):
    """An estimate with its interval; ``method`` says how the interval was made."""

    estimate: float
    lower: float
    upper: float
    level: float = 0.95
    method: str


def bootstrap_ci(statistic, *arrays: Any, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> Interval:
    """Percentile bootstrap over items (rows of every array together), fixed seed.

    Resamples on which the statistic is undefined (raises ValueError or is not finite) are
    dropped; if fewer than half survive, the interval is reported as NaN-free but as wide as
    what survived, never invented.
    """
    arrs = [np.asarray(a) for a in arrays]
    n = arrs[0].shape[0]
    if any(a.shape[0] != n for a in arrs):
        raise ValueError("all arrays must have one row per item")
    est = float(statistic(*arrs))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        try:
            v = float(statistic(*(a[idx] for a in arrs)))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            continue
        if math.isfinite(v):
            values.append(v)
    if not values:
        return Interval(estimate=est, lower=est, upper=est, level=level,
                        method="bootstrap (no valid resample)")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return Interval(estimate=est, lower=float(min(lo, est)), upper=float(max(hi, est)),
                    level=level, method=f"percentile bootstrap over items, {n_boot} resamples, "
                                        f"seed {seed}")


# --------------------------------------------------------------------------- ICC


class ICCResult(Frozen):
    """Two-way random effects, absolute agreement (Shrout & Fleiss ICC(2,1) and ICC(2,k))."""

    n_items: int
    n_raters: int
    n_dropped: int = 0
    single: Interval  # ICC(2,1): the reliability of one rater
    average: Interval  # ICC(2,k): the reliability of the mean of k raters
    single_label: str
    average_label: str
    ms_rows: float
    ms_cols: float
    ms_error: float


def icc(ratings: Any, level: float = 0.95) -> ICCResult:
    """ICC(2,1) and ICC(2,k) of an items x raters table, with F-based intervals.

    Items with any missing rating (NaN) are dropped (listwise), and counted in ``n_dropped``.
    Formulas: Shrout & Fleiss (1979) for the estimates, McGraw & Wong (1996) for the
    intervals of ICC(2,1); the ICC(2,k) bounds are the Spearman-Brown step-up of those.
    """
    R = np.asarray(ratings, dtype=float)
    if R.ndim != 2:
        raise ValueError("ICC needs a table: one row per item, one column per rater")
    keep = np.all(np.isfinite(R), axis=1)
    dropped = int((~keep).sum())
    R = R[keep]
    n, k = R.shape
    if k < 2:
        raise ValueError("ICC needs at least two raters")
    if n < 2:
        raise ValueError("ICC needs at least two items rated by every rater")
    grand = R.mean()
    ss_rows = k * float(((R.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((R.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((R - grand) ** 2).sum())
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))

    den1 = msr + (k - 1) * mse + k * (msc - mse) / n
    denk = msr + (msc - mse) / n
    if den1 <= 0 or denk <= 0:
        raise ValueError("ICC is undefined: every item got the same rating from every rater")
    icc1 = (msr - mse) / den1
    icck = (msr - mse) / denk

    # McGraw & Wong (1996) / Shrout & Fleiss (1979) approximate interval for ICC(2,1)
    alpha = 1.0 - level
    if icc1 >= 1.0 or mse <= 0:
        lo1 = hi1 = 1.0
    else:
        a = k * icc1 / (n * (1.0 - icc1))
        b = 1.0 + k * icc1 * (n - 1) / (n * (1.0 - icc1))
        v_num = (a * msc + b * mse) ** 2
        v_den = (a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1))
        v = v_num / v_den if v_den > 0 else float("inf")
        f_u = stats.f.ppf(1 - alpha / 2, n - 1, v)
        f_l = stats.f.ppf(1 - alpha / 2, v, n - 1)
        lo1 = n * (msr - f_u * mse) / (f_u * (k * msc + (k * n - k - n) * mse) + n * msr)
        hi1 = n * (f_l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_l * msr)

    def step_up(r: float) -> float:
        return k * r / (1.0 + (k - 1) * r) if (1.0 + (k - 1) * r) != 0 else float("nan")

    method = "F-based (McGraw & Wong 1996)"
    single = Interval(estimate=icc1, lower=float(lo1), upper=float(hi1), level=level, method=method)
    average = Interval(estimate=icck, lower=float(step_up(lo1)), upper=float(step_up(hi1)),
                       level=level, method=method + ", Spearman-Brown of the single-rater bounds")
    return ICCResult(n_items=n, n_raters=k, n_dropped=dropped, single=single, average=average,
                     single_label=icc_label(icc1), average_label=icc_label(icck),
                     ms_rows=msr, ms_cols=msc, ms_error=mse)


# --------------------------------------------------------------------------- Krippendorff


def _alpha_point(R: np.ndarray, metric: str) -> float:
    """Krippendorff's alpha of an items x raters table (NaN = missing)."""
    vals = np.unique(R[np.isfinite(R)])
    if vals.size == 0:
        raise ValueError("no ratings")
    # counts of each value per item
    N = np.stack([(R == v).sum(axis=1) for v in vals], axis=1).astype(float)
    m = N.sum(axis=1)
    N = N[m >= 2]
    m = m[m >= 2]
    if N.shape[0] == 0:
        raise ValueError("no item has two or more ratings")
    # coincidence matrix
    O = np.einsum("uc,uk->ck", N / (m - 1)[:, None], N) - np.diag((N / (m - 1)[:, None]).sum(axis=0))
    n_c = O.sum(axis=1)
    n = n_c.sum()
    if metric == "nominal":
        delta = 1.0 - np.eye(vals.size)
    elif metric == "interval":
        delta = (vals[:, None] - vals[None, :]) ** 2
    elif metric == "ordinal":
        cum = np.cumsum(n_c)
        # sum of n_g for g between c and k inclusive, minus half of n_c and n_k
        lo_idx = np.minimum.outer(np.arange(vals.size), np.arange(vals.size))
        hi_idx = np.maximum.outer(np.arange(vals.size), np.arange(vals.size))
        between = cum[hi_idx] - np.where(lo_idx > 0, cum[lo_idx - 1], 0.0)
        delta = (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    else:
        raise ValueError("metric must be 'interval', 'ordinal' or 'nominal'")
    d_o = float((O * delta).sum())
    d_e = float((np.outer(n_c, n_c) * delta).sum()) / (n - 1)
    if d_e == 0:
        if d_o == 0:
            return 1.0
        raise ValueError("Krippendorff's alpha is undefined: the ratings do not vary")
    return 1.0 - d_o / d_e


def krippendorff_alpha(ratings: Any, metric: Literal["interval", "ordinal", "nominal"] = "interval",
                       n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Interval:
    """Krippendorff's alpha of an items x raters table; NaN (or None) marks a missing rating.

    Any number of raters; items with fewer than two ratings are not pairable and are ignored.
    Interval: percentile bootstrap over items with a fixed seed.
    """
    R = np.asarray(ratings, dtype=object)
    R = np.array([[np.nan if v is None else float(v) for v in row] for row in R], dtype=float) \
        if R.dtype == object else np.asarray(ratings, dtype=float)
    if R.ndim != 2:
        raise ValueError("alpha needs a table: one row per item, one column per rater")
    if metric not in ("interval", "ordinal", "nominal"):
        raise ValueError("metric must be 'interval', 'ordinal' or 'nominal'")
    ci = bootstrap_ci(lambda T: _alpha_point(T, metric), R, n_boot=n_boot, level=level, seed=seed)
    return ci.model_copy(update={"method": f"Krippendorff's alpha ({metric}); " + ci.method})


# --------------------------------------------------------------------------- pairs and report


class PairAgreement(Frozen):
    """How closely rater ``b`` agrees with rater ``a`` on the same items."""

    n: int
    qwk: Interval
    qwk_label: str
    exact: Interval
    adjacent: Interval
    smd: float  # (mean of b - mean of a) / pooled SD
    mean_a: float
    mean_b: float


def pair_agreement(a: Any, b: Any, n_boot: int = 1000, seed: int = 0) -> PairAgreement:
    x, y = _int_pair(a, b)
    lo, hi = int(min(x.min(), y.min())), int(max(x.max(), y.max()))
    q = bootstrap_ci(lambda u, v: quadratic_weighted_kappa(u, v, lo, hi), x, y, n_boot=n_boot,
                     seed=seed)
    ex = bootstrap_ci(exact_agreement, x, y, n_boot=n_boot, seed=seed)
    adj = bootstrap_ci(adjacent_agreement, x, y, n_boot=n_boot, seed=seed)
    return PairAgreement(n=int(x.size), qwk=q, qwk_label=qwk_label(q.estimate), exact=ex,
                         adjacent=adj, smd=standardised_mean_difference(y, x),
                         mean_a=float(x.mean()), mean_b=float(y.mean()))


class SubgroupCheck(Frozen):
    group: str
    n: int
    smd: float | None
    gap: float | None  # subgroup SMD minus the overall SMD
    flagged: bool
    note: str = ""


Verdict = Literal["unsupervised", "with review", "not usable"]


class ValidationReport(Frozen):
    """Model against human raters, judged by the criteria in domain.md section 3."""

    n: int
    model_human: PairAgreement
    human_human: PairAgreement | None = None
    qwk_drop: float | None = None  # human-human QWK minus model-human QWK
    smd: float
    subgroups: tuple[SubgroupCheck, ...] = ()
    verdict: Verdict
    reasons: tuple[str, ...] = Field(min_length=1)
    criteria: dict[str, float] = Field(default_factory=dict)


def validation_report(model: Any, human1: Any, human2: Any = None,
                      groups: Sequence[Hashable] | None = None, n_boot: int = 1000,
                      seed: int = 0) -> ValidationReport:
    """Compare a scorer's levels with human ratings of the same answers and give a verdict.

    ``model`` and ``human1`` (and ``human2``, a second human rater, when there is one) are
    integer levels in the same item order; ``human2`` may be NaN for items it did not mark, and
    human-human agreement is then measured on the items both humans marked, against the
    scorer's agreement on those same items. A second rater who marked none is no second rater. ``groups`` gives, per item, a subgroup label for
    the scorer's fairness check (its SMD per subgroup); it is only ever used to compute
    these figures.

    Verdict: "unsupervised" when every criterion holds (model-human QWK >= 0.70, no more than
    0.10 below human-human QWK, |SMD| <= 0.15, no subgroup SMD more than 0.10 from the overall
    one, a second rater to compare with, and at least 50 items); "not usable" when model-human
    QWK is below 0.60 (below acceptable) or more than twice the allowed 0.10 below
    human-human; "with review" otherwise.
    """
    m, h1 = _int_pair(model, human1)
    n = int(m.size)
    mh = pair_agreement(h1, m, n_boot=n_boot, seed=seed)
    hh = None
    drop = None
    n_pairs = 0
    if human2 is not None:
        h2f = np.asarray(human2, dtype=float).ravel()
        if h2f.shape != m.shape:
            raise ValueError(f"the two sets of ratings differ in length ({m.size} and {h2f.size})")
        marked = ~np.isnan(h2f)  # NaN: an item the second rater did not mark
        n_pairs = int(marked.sum())
        if n_pairs:
            _, h2 = _int_pair(h1[marked], h2f[marked])
            hh = pair_agreement(h1[marked], h2, n_boot=n_boot, seed=seed)
            # like with like: the scorer on the same items the two humans both marked
            same = mh if n_pairs == n else pair_agreement(h1[marked], m[marked], n_boot=n_boot, seed=seed)
            drop = hh.qwk.estimate - same.qwk.estimate
    smd = mh.smd

    reasons: list[str] = []
    fails_unsupervised = False
    not_usable = False
    q = mh.qwk.estimate
    if q >= MODEL_QWK_MIN:
        reasons.append(f"The scorer agrees with the human marks at QWK {q:.2f}, at or above the "
                       f"{MODEL_QWK_MIN:.2f} needed.")
    else:
        fails_unsupervised = True
        reasons.append(f"The scorer agrees with the human marks at QWK {q:.2f}, below the "
                       f"{MODEL_QWK_MIN:.2f} needed to use it without review.")
        if q < NOT_USABLE_QWK:
            not_usable = True
            reasons.append(f"That is below {NOT_USABLE_QWK:.2f}, the lowest agreement counted as "
                           "acceptable, so its scores should not be used.")
    if hh is None:
        fails_unsupervised = True
        reasons.append("No second human rater was given, so it cannot be checked that the scorer "
                       "agrees with people nearly as well as people agree with each other.")
    else:
        assert drop is not None
        on = "" if n_pairs == n else f" on the {n_pairs} answers both marked"
        if drop <= MAX_QWK_DROP:
            reasons.append(f"Two human raters agree at QWK {hh.qwk.estimate:.2f}{on}; the scorer is "
                           f"{max(drop, 0):.2f} below that, within the {MAX_QWK_DROP:.2f} allowed.")
        else:
            fails_unsupervised = True
            reasons.append(f"Two human raters agree at QWK {hh.qwk.estimate:.2f}{on}; the scorer is "
                           f"{drop:.2f} below that, more than the {MAX_QWK_DROP:.2f} allowed.")
            if drop > 2 * MAX_QWK_DROP:
                not_usable = True
                reasons.append("The gap to human agreement is more than twice the allowed amount.")
    if abs(smd) <= MAX_SMD:
        reasons.append(f"On average the scorer marks {_higher_lower(smd)} than the humans by "
                       f"{abs(smd):.2f} standard deviations, within the {MAX_SMD:.2f} allowed.")
    else:
        fails_unsupervised = True
        reasons.append(f"On average the scorer marks {_higher_lower(smd)} than the humans by "
                       f"{abs(smd):.2f} standard deviations, more than the {MAX_SMD:.2f} allowed.")

    checks: list[SubgroupCheck] = []
    if groups is not None:
        g = list(groups)
        if len(g) != n:
            raise ValueError(f"groups has {len(g)} labels for {n} items")
        labels = sorted({str(x) for x in g})
        garr = np.array([str(x) for x in g])
        for lab in labels:
            sel = garr == lab
            cnt = int(sel.sum())
            if cnt < 2:
                checks.append(SubgroupCheck(group=lab, n=cnt, smd=None, gap=None, flagged=False,
                                            note="too few answers to compare"))
                continue
            s = standardised_mean_difference(m[sel], h1[sel])
            gap = s - smd if math.isfinite(s) else None
            flagged = gap is None or abs(gap) > MAX_SUBGROUP_SMD_GAP
            checks.append(SubgroupCheck(group=lab, n=cnt, smd=s if math.isfinite(s) else None,
                                        gap=gap, flagged=flagged))
        flagged = [c for c in checks if c.flagged]
        if flagged:
            fails_unsupervised = True
            names = ", ".join(f"{c.group} ({c.gap:+.2f})" if c.gap is not None else c.group
                              for c in flagged)
            reasons.append("The scorer treats some groups differently from the rest: their mean "
                           f"difference from the humans is more than {MAX_SUBGROUP_SMD_GAP:.2f} away "
                           f"from the overall one: {names}.")
        else:
            reasons.append("No group's mean difference from the humans is more than "
                           f"{MAX_SUBGROUP_SMD_GAP:.2f} away from the overall one.")
    if n < MIN_ITEMS_UNSUPERVISED:
        fails_unsupervised = True
        reasons.append(f"Only {n} answers were compared; at least {MIN_ITEMS_UNSUPERVISED} are "
                       "needed before the scorer can be trusted without review.")

    verdict: Verdict = "not usable" if not_usable else (
        "with review" if fails_unsupervised else "unsupervised")
    summary = {
        "unsupervised": "The scorer may be used without a person checking each score.",
        "with review": "The scorer may be used only with a person reviewing its scores.",
        "not usable": "The scorer should not be used for these answers.",
    }[verdict]
    return ValidationReport(
        n=n, model_human=mh, human_human=hh, qwk_drop=drop, smd=smd, subgroups=tuple(checks),
        verdict=verdict, reasons=(summary, *reasons),
        criteria={"model_qwk_min": MODEL_QWK_MIN, "max_qwk_drop": MAX_QWK_DROP, "max_smd": MAX_SMD,
                  "max_subgroup_smd_gap": MAX_SUBGROUP_SMD_GAP, "not_usable_qwk": NOT_USABLE_QWK,
                  "min_items_unsupervised": MIN_ITEMS_UNSUPERVISED},
    )


def _higher_lower(smd: float) -> str:
    return "higher" if smd > 0 else "lower" if smd < 0 else "no higher or lower"
