"""One comparison table: rates, impact ratios, tests, small-number checks and verdicts in words.

Shared by the regimes. Input is counts per group (the last group is the unknown bucket), so the
same function serves ethnicity, sex, intersections and scoring rates.

Comparison group: the chosen ``reference``, else the group with the highest rate among groups
with at least ``min_group_size`` applicants at the stage (so one person selected out of one does
not become everyone's yardstick); if no group is that large, or those groups selected no one,
the highest rate among all compared groups. The choice is written in ``method``.

Verdicts (``verdict`` code → words for an equality officer; ``outcome`` is what the gate reads):

* ``adverse_impact_significant`` – ratio below the threshold and the adjusted p-value at or
  below alpha: BLOCK. If one more selection would change that (flip-flop) it is REVIEW instead:
  the fairness notes say an unstable verdict needs review, not a label.
* ``too_few`` – ratio below the threshold, not significant, and fewer than ``min_group_size``
  applicants or so few that even no selections at all would not be significant: REVIEW.
* ``below_threshold_not_significant`` – ratio below the threshold, not significant: REVIEW.
* ``significant_above_threshold`` – ratio at or above the threshold but the lower rate is
  statistically significant (UGESP 1607.4(D)); REVIEW unless switched off in the config.
* ``no_adverse_impact`` – PASS; ``reference``, ``no_applicants``, ``no_one_selected``,
  ``unknown`` and ``excluded`` rows carry no verdict of their own.

Multiplicity: p-values are adjusted (Holm by default) over the tests against the comparison
group; ``test_family="all_pairs"`` adjusts over all pairs instead, which allows for the comparison
group having been picked as the highest rate (with 16 groups and no real difference the default
family BLOCKs about 10-15 % of random campaigns, all pairs about 3 %; see :func:`_all_pairs_adjusted`).

Flip-flop: the group's table is recomputed with one more selection in the group, and with one
fewer in the comparison group; if either changes the verdict class, the verdict flip-flops. The
changed table's p-value is adjusted with the group's own adjustment factor held fixed.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from vbr.errors import ValidationFailed
from vbr.fairness import stats
from vbr.fairness.config import AuditConfig
from vbr.fairness.results import Finding, GroupRow, StageResult, num, worst
from vbr.models import Decision

_CLASS_TEXT = {
    "adverse_impact_significant": ("adverse impact, statistically significant", Decision.BLOCK),
    "too_few": ("ratio below {thr} but too few applicants to conclude: review", Decision.REVIEW),
    "below_threshold_not_significant": ("ratio below {thr} but not statistically significant: review", Decision.REVIEW),
    "significant_above_threshold": ("ratio at or above {thr} but the difference is statistically significant: review",
                                    Decision.REVIEW),
    "no_adverse_impact": ("no adverse impact", Decision.PASS),
}


def _classify(ratio, padj, too_few, cfg: AuditConfig) -> np.ndarray:
    below = ratio < cfg.ratio_threshold - 1e-12
    sig = padj <= cfg.alpha
    out = np.where(below & sig, "adverse_impact_significant",
                   np.where(below & too_few, "too_few",
                            np.where(below, "below_threshold_not_significant",
                                     np.where(sig & cfg.review_significant_above_threshold,
                                              "significant_above_threshold", "no_adverse_impact"))))
    return out


def analyse(
    *, table: str, from_stage: str, stage: str, groups: tuple[str, ...], labels: tuple[str, ...],
    n: np.ndarray, x: np.ndarray, config: AuditConfig, reference: str | None = None,
    excluded: Mapping[int, str] | None = None, strata_n: np.ndarray | None = None,
    strata_x: np.ndarray | None = None, strata: tuple[str, ...] = (),
) -> tuple[StageResult, list[Finding]]:
    """Compare every group with the comparison group. The last entry of ``groups`` is unknown."""
    cfg = config
    n, x = np.asarray(n, dtype=np.int64), np.asarray(x, dtype=np.int64)
    g_unknown = len(groups) - 1
    excluded = dict(excluded or {})
    excluded.setdefault(g_unknown, "unknown category: counted and reported, not compared")
    findings: list[Finding] = []
    total, unknown = int(n.sum()), int(n[g_unknown])
    declaration = (total - unknown) / total if total else None
    with np.errstate(all="ignore"):
        rate = np.where(n > 0, x / np.maximum(n, 1), np.nan)
    rlo, rhi = stats.rate_interval(x, n, cfg.confidence, cfg.rate_interval)
    compared = np.array([i not in excluded and n[i] > 0 for i in range(len(groups))])

    ref, how = _reference(groups, n, rate, compared, cfg, reference)
    rows: list[GroupRow] = []
    for i, g in enumerate(groups):
        row = GroupRow(group=g, label=labels[i], applicants=int(n[i]), selected=int(x[i]))
        row.share = num(n[i] / total if total else None, "no applicants at this stage", row.why_missing, "share")
        row.rate = num(rate[i], "no applicants at this stage", row.why_missing, "rate")
        if row.rate is not None:
            row.rate_ci = (float(rlo[i]), float(rhi[i]))
        rows.append(row)

    ref_rate = float(rate[ref]) if ref is not None else None
    method = {"comparison": how, "test": cfg.test, "adjustment": cfg.adjustment, "test_family": cfg.test_family,
              "alpha": cfg.alpha,
              "ratio_threshold": cfg.ratio_threshold, "rate_interval": cfg.rate_interval,
              "ratio_interval": "Koopman score", "detectable_ratio": "normal approximation, one-sided",
              "confidence": cfg.confidence, "power": cfg.power}
    thr = f"{cfg.ratio_threshold:.2f}"
    others = np.array([i for i in range(len(groups)) if compared[i] and i != ref], dtype=np.int64)
    nobody = ref is not None and x[ref] == 0

    for i, row in enumerate(rows):
        if i in excluded:
            row.excluded = excluded[i]
            row.verdict, row.verdict_text = ("unknown" if i == g_unknown else "excluded"), excluded[i]
        elif n[i] == 0:
            row.verdict, row.verdict_text = "no_applicants", "no applicants at this stage"
        elif ref is None:
            row.verdict, row.verdict_text = "no_comparison", "no comparison group at this stage"
    if ref is not None:
        rr = rows[ref]
        rr.is_reference, rr.impact_ratio = True, 1.0
        rr.verdict = "reference"
        rr.verdict_text = "comparison group (" + ("chosen reference" if reference else "highest selection rate") + ")"
        if nobody:
            rr.impact_ratio = None
            rr.why_missing["impact_ratio"] = "no one was selected at this stage, so ratios are undefined"
            rr.verdict, rr.verdict_text = "no_one_selected", "no one in the comparison group was selected"

    if ref is not None and others.size:
        if nobody:
            for i in others:
                r = rows[i]
                for k in ("impact_ratio", "p_value", "p_adjusted"):
                    r.why_missing[k] = "no one in the comparison group was selected at this stage, so ratios are undefined"
                r.verdict = "no_one_selected"
                r.verdict_text = ("no one was selected at this stage: ratios are undefined" if x[others].sum() == 0
                                  else "the comparison group had no one selected: ratio undefined, review")
                r.outcome = Decision.PASS if x[others].sum() == 0 else Decision.REVIEW
            if x[others].sum() == 0:
                findings.append(Finding("no_one_selected", "block",
                                        f"no one was selected at '{stage}' ({table}): an audit of an empty "
                                        "selection says nothing; check the outcome column, or leave out a stage "
                                        "that has not happened yet", stage=stage))
        else:
            _compare(rows, others, ref, n, x, cfg, thr)
            if strata_n is not None and strata_n.shape[0] > 1:
                findings += _stratify(rows, others, ref, strata_n, strata_x, strata, cfg, stage, table)
    for r in rows:  # every absent figure says why
        reason = ("this is the comparison group" if r.is_reference else r.excluded or
                  (r.verdict_text if r.verdict in ("no_applicants", "no_comparison", "no_one_selected") else
                   "not compared"))
        for key in ("impact_ratio", "ratio_ci", "p_value", "p_adjusted", "detectable_ratio", "flip_flop", "shortfall"):
            if getattr(r, key) is None and key not in r.why_missing:
                r.why_missing[key] = reason
    if declaration is not None and declaration < cfg.low_declaration_rate:
        findings.append(Finding(
            "low_declaration_rate", "review",
            f"only {declaration:.0%} of people at '{stage}' ({table}) have a known category "
            f"(threshold {cfg.low_declaration_rate:.0%}): unknowns could hide adverse impact",
            stage=stage, count=unknown))
    result = StageResult(table=table, from_stage=from_stage, stage=stage, groups=rows,
                         reference=groups[ref] if ref is not None else None, reference_rate=ref_rate,
                         total=total, unknown=unknown, declaration_rate=declaration, method=method)
    decisions = [r.outcome for r in rows] + [f.decision for f in findings]
    result.outcome = worst(decisions)
    result.reasons = [f"{table}, {from_stage} → {stage}: {r.label}: {r.verdict_text}"
                      for r in rows if r.outcome != Decision.PASS and r.outcome == result.outcome]
    result.reasons += [f.message for f in findings if f.decision == result.outcome and f.decision != Decision.PASS]
    return result, findings


def _reference(groups, n, rate, compared, cfg: AuditConfig, reference: str | None) -> tuple[int | None, str]:
    if reference is not None:
        if reference not in groups[:-1]:
            raise ValidationFailed(f"reference group {reference!r} is not a group of this grouping",
                                   field="reference", hint=f"groups: {', '.join(groups[:-1])}")
        i = groups.index(reference)
        if n[i] == 0:
            return None, f"chosen reference {reference!r} has no applicants at this stage"
        return i, f"chosen reference {reference!r}"
    cand = [i for i in np.flatnonzero(compared)]
    if not cand:
        return None, "no group with a known category has applicants at this stage"
    big = [i for i in cand if n[i] >= cfg.min_group_size]
    pool = big if big and max(rate[i] for i in big) > 0 else cand
    best = max(pool, key=lambda i: (rate[i], n[i], -i))
    note = (f"highest rate among groups with at least {cfg.min_group_size} applicants" if pool is big
            else "highest rate among all compared groups")
    return int(best), note


def _all_pairs_adjusted(idx, ref, n, x, cfg: AuditConfig) -> np.ndarray:
    """Adjusted p of each group vs ``ref`` within the family of all pairs of compared groups.

    The comparison group is picked *because* its rate is highest, so tests against it are a
    data-selected subset of all pairwise comparisons. Adjusting over every pair (each tested
    two-sided: twice the one-sided p in the observed direction, capped at 1) keeps the
    family-wise error at alpha; ``test_family="comparison"`` adjusts over the G−1 tests only.
    """
    members = np.r_[idx, ref]
    i, j = np.triu_indices(members.size, k=1)
    a, b = members[i], members[j]
    ra, rb = x[a] / n[a], x[b] / n[b]
    lo, hi = np.where(ra <= rb, a, b), np.where(ra <= rb, b, a)
    p = np.minimum(1.0, 2 * stats.lower_rate_test(x[lo], n[lo], x[hi], n[hi], cfg.test))
    adj = stats.adjust_pvalues(p, cfg.adjustment)
    out = np.empty(idx.size)
    for k, g in enumerate(idx):
        out[k] = adj[np.flatnonzero(((a == g) & (b == ref)) | ((a == ref) & (b == g)))[0]]
    return out


def _compare(rows, idx, ref, n, x, cfg: AuditConfig, thr: str) -> None:
    n1, x1 = n[idx], x[idx]
    n2, x2 = np.full(idx.size, n[ref]), np.full(idx.size, x[ref])
    p2 = x2 / n2
    ratio = (x1 / n1) / p2
    lo, hi = stats.koopman_ratio_interval(x1, n1, x2, n2, cfg.confidence)
    p = stats.lower_rate_test(x1, n1, x2, n2, cfg.test)
    if cfg.test_family == "all_pairs":
        padj = np.maximum(p, _all_pairs_adjusted(idx, ref, n, x, cfg))
    else:
        padj = stats.adjust_pvalues(p, cfg.adjustment)
    with np.errstate(all="ignore"):
        factor = np.where(p > 0, padj / p, 1.0)
    det = stats.detectable_ratio(n1, n2, p2, alpha=cfg.alpha, power=cfg.power)
    short = stats.shortfall(x1, n1, x2, n2, cfg.ratio_threshold)
    p_none = stats.fisher_lower(np.zeros_like(x1), n1, x2, n2)  # if no one in the group were selected
    too_few = (n1 < cfg.min_group_size) | (p_none > cfg.alpha)
    cls = _classify(ratio, padj, too_few, cfg)

    # flip-flop: one more selection in the group; one fewer in the comparison group
    flip = np.zeros(idx.size, dtype=bool)
    for dx1, dx2 in ((1, 0), (0, -1)):
        a1, a2 = x1 + dx1, x2 + dx2
        ok = (a1 <= n1) & (a2 >= 0) & (a2 > 0)
        if not ok.any():
            continue
        s1, s2 = np.where(ok, a1, x1), np.where(ok, a2, x2)
        r_alt = (s1 / n1) / (s2 / n2)
        p_alt = np.minimum(1.0, stats.lower_rate_test(s1, n1, s2, n2, cfg.test) * factor)
        cls_alt = _classify(r_alt, p_alt, too_few, cfg)
        flip |= ok & (cls_alt != cls)

    for k, i in enumerate(idx):
        r = rows[i]
        r.impact_ratio = float(ratio[k])
        r.ratio_ci = (float(lo[k]), None if not np.isfinite(hi[k]) else float(hi[k]))
        if r.ratio_ci[1] is None:
            r.why_missing["ratio_ci_high"] = "no upper limit: the comparison group's rate is 0"
        r.p_value = num(p[k], "test not defined for these counts", r.why_missing, "p_value")
        r.p_adjusted = num(padj[k], "test not defined for these counts", r.why_missing, "p_adjusted")
        r.detectable_ratio = num(det[k], "too few applicants: even no selections at all would not be detected "
                                         f"with {cfg.power:.0%} power", r.why_missing, "detectable_ratio")
        r.shortfall = int(short[k])
        r.flip_flop = bool(flip[k])
        c = str(cls[k])
        text, outcome = _CLASS_TEXT[c]
        text = text.format(thr=thr)
        if flip[k]:
            text += "; one more selection would change this verdict (flip-flop): review"
            outcome = Decision.REVIEW  # an unstable verdict needs review, not a label (fairness.md)
        if c in ("too_few", "below_threshold_not_significant", "adverse_impact_significant") and short[k] > 0:
            text += f"; {int(short[k])} more selection(s) would bring the ratio to {thr}"
        r.verdict, r.verdict_text, r.outcome = c, text, outcome


def _stratify(rows, idx, ref, sn, sx, strata, cfg: AuditConfig, stage, table) -> list[Finding]:
    findings = []
    for i in idx:
        a, b = sx[:, i], sn[:, i] - sx[:, i]
        c, d = sx[:, ref], sn[:, ref] - sx[:, ref]
        res = stats.mantel_haenszel(a, b, c, d, cfg.confidence)
        r = rows[i]
        why: dict[str, str] = {}
        out: dict[str, Any] = {"strata_used": res.strata_used}
        for key in ("odds_ratio", "ci_low", "ci_high", "cmh_statistic", "cmh_pvalue", "breslow_day_statistic",
                    "breslow_day_pvalue", "tarone_statistic", "tarone_pvalue"):
            reason = ("fewer than two informative strata" if key.startswith(("breslow", "tarone")) and res.strata_used < 2
                      else "no stratum with both groups present and a mix of outcomes" if res.strata_used == 0
                      else "not defined for these counts (a zero in every stratum)")
            out[key] = num(getattr(res, key), reason, why, key)
        out["why_missing"] = why
        r.stratified = out
        pooled_adverse = r.impact_ratio is not None and r.impact_ratio < cfg.ratio_threshold
        mh_or, mh_high = out["odds_ratio"], out["ci_high"]
        if mh_or is not None and pooled_adverse and mh_or >= 1:
            findings.append(Finding("simpson", "review",
                                    f"{r.label} at '{stage}' ({table}): below {cfg.ratio_threshold:.2f} pooled, but not "
                                    f"disadvantaged within strata (Mantel-Haenszel OR {mh_or:.2f}): Simpson's paradox, "
                                    "look at each stratum", stage=stage, group=r.group))
        elif not pooled_adverse and mh_high is not None and mh_high < 1:
            findings.append(Finding("simpson", "review",
                                    f"{r.label} at '{stage}' ({table}): no adverse impact pooled, but significantly "
                                    f"disadvantaged within strata (Mantel-Haenszel OR {mh_or:.2f}, upper limit "
                                    f"{mh_high:.2f}): Simpson's paradox, look at each stratum", stage=stage, group=r.group))
        if out["tarone_pvalue"] is not None and out["tarone_pvalue"] <= cfg.alpha:
            findings.append(Finding("heterogeneous_strata", "review",
                                    f"{r.label} at '{stage}' ({table}): odds ratios differ across strata "
                                    f"(Breslow–Day/Tarone p = {out['tarone_pvalue']:.3g}): look at each stratum",
                                    stage=stage, group=r.group))
    return findings
