"""Scores, not only decisions: per-group distributions, standardised mean differences, scoring
rates (LL144) and the human-versus-model gap per group.

* Standardised mean difference: Cohen's d of each group against the comparison group (the chosen
  reference, else the group with the highest mean among groups with at least ``min_group_size``
  scored people), pooled standard deviation with n − 1. Negative means the group scores lower.
* Scoring rate (LL144): share of a category scoring **above** the median of the whole scored
  sample (unknown categories included in that median); ties at the median do not count.
* Human-vs-model gap: mean of (model − human) over people with both scores, per group, and that
  gap minus the overall gap (a group whose gap differs is scored differently by the model).

Rows without a score are counted (``unscored``) and left out, never imputed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vbr.fairness.config import AuditConfig
from vbr.fairness.counts import AuditCounts
from vbr.fairness.groupings import Grouping


def _group_rows(counts: AuditCounts, grouping: Grouping) -> np.ndarray:
    return grouping.index(counts.codes)[counts.scores.code_index]


def scoring_counts(counts: AuditCounts, grouping: Grouping) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(scored[sex, group], above_median[sex, group], whole-sample median)."""
    sd = counts.scores
    g = _group_rows(counts, grouping)
    n_groups, n_sex = len(grouping.all_groups), len(counts.sexes)
    ok = ~np.isnan(sd.model)
    if not ok.any():
        z = np.zeros((n_sex, n_groups), dtype=np.int64)
        return z, z.copy(), None
    median = float(np.median(sd.model[ok]))
    key = sd.sex_index * n_groups + g
    scored = np.bincount(key[ok], minlength=n_sex * n_groups).reshape(n_sex, n_groups)
    above = np.bincount(key[ok & (sd.model > median)], minlength=n_sex * n_groups).reshape(n_sex, n_groups)
    return scored, above, median


def _summaries(values: np.ndarray, g: np.ndarray, n_groups: int) -> list[dict[str, Any]]:
    ok = ~np.isnan(values)
    v, gg = values[ok], g[ok]
    order = np.lexsort((v, gg))
    v, gg = v[order], gg[order]
    bounds = np.searchsorted(gg, np.arange(n_groups + 1))
    out = []
    for k in range(n_groups):
        s = v[bounds[k]:bounds[k + 1]]
        if s.size == 0:
            out.append({"n": 0, "why_missing": {"mean": "no scored people in this group"}})
            continue
        q = np.quantile(s, [0.25, 0.5, 0.75])
        sd = float(np.std(s, ddof=1)) if s.size > 1 else None
        d = {"n": int(s.size), "mean": float(s.mean()), "sd": sd, "min": float(s[0]), "q1": float(q[0]),
             "median": float(q[1]), "q3": float(q[2]), "max": float(s[-1])}
        if sd is None:
            d["why_missing"] = {"sd": "one scored person: no spread"}
        out.append(d)
    return out


def score_analysis(counts: AuditCounts, grouping: Grouping, config: AuditConfig,
                   reference: str | None = None) -> dict[str, Any]:
    """Distributions, SMDs, scoring rates and (with human scores) the gap, per group."""
    sd = counts.scores
    g = _group_rows(counts, grouping)
    groups = grouping.all_groups
    n_groups = len(groups)
    summ = _summaries(sd.model, g, n_groups)
    unscored = np.bincount(g[np.isnan(sd.model)], minlength=n_groups)
    known = [k for k in range(n_groups - 1) if summ[k]["n"] > 0]
    if reference is not None and reference in groups[:-1] and summ[groups.index(reference)]["n"] > 0:
        ref, how = groups.index(reference), f"chosen reference {reference!r}"
    else:
        big = [k for k in known if summ[k]["n"] >= config.min_group_size] or known
        ref = max(big, key=lambda k: (summ[k]["mean"], summ[k]["n"])) if big else None
        how = "highest mean score" if big else "no group with scores"
    scored, above, median = scoring_counts(counts, grouping)
    sc, ab = scored.sum(axis=0), above.sum(axis=0)
    rows = []
    for k, grp in enumerate(groups):
        row = {"group": grp, "label": grouping.label(grp), "unscored": int(unscored[k]), **summ[k]}
        why = dict(row.pop("why_missing", {}))
        row["scoring_rate"] = float(ab[k] / sc[k]) if sc[k] else None
        if not sc[k]:
            why["scoring_rate"] = "no scored people in this group"
        if k == n_groups - 1:
            why["smd"] = "unknown category: not compared"
            row["smd"] = None
        elif ref is None or summ[k]["n"] == 0:
            row["smd"] = None
            why["smd"] = "no scores to compare"
        else:
            row["smd"] = _smd(summ[k], summ[ref])
            if row["smd"] is None:
                why["smd"] = "no spread in the scores (standard deviation 0 or a single person)"
        row["why_missing"] = why
        rows.append(row)
    out: dict[str, Any] = {"reference": groups[ref] if ref is not None else None, "comparison": how,
                           "median": median, "groups": rows,
                           "method": {"smd": "Cohen's d, pooled SD (n-1), group minus comparison",
                                      "scoring_rate": "share scoring above the whole-sample median"}}
    if sd.human is not None:
        out["human_vs_model"] = _human_gap(sd.model, sd.human, g, grouping)
    return out


def _smd(a: dict, b: dict) -> float | None:
    na, nb = a["n"], b["n"]
    if na + nb <= 2 or a.get("sd") is None and b.get("sd") is None:
        return None
    va = (a["sd"] or 0.0) ** 2 * (na - 1)
    vb = (b["sd"] or 0.0) ** 2 * (nb - 1)
    pooled = np.sqrt((va + vb) / (na + nb - 2))
    if pooled <= 0:
        return None
    return float((a["mean"] - b["mean"]) / pooled)


def _human_gap(model: np.ndarray, human: np.ndarray, g: np.ndarray, grouping: Grouping) -> dict[str, Any]:
    both = ~np.isnan(model) & ~np.isnan(human)
    groups = grouping.all_groups
    n = np.bincount(g[both], minlength=len(groups))
    gap = model[both] - human[both]
    s = np.bincount(g[both], weights=gap, minlength=len(groups))
    sm = np.bincount(g[both], weights=model[both], minlength=len(groups))
    sh = np.bincount(g[both], weights=human[both], minlength=len(groups))
    overall = float(gap.mean()) if gap.size else None
    rows = []
    for k, grp in enumerate(groups):
        if n[k] == 0:
            rows.append({"group": grp, "label": grouping.label(grp), "n": 0, "mean_model": None, "mean_human": None,
                         "mean_gap": None, "gap_vs_overall": None,
                         "why_missing": {"mean_gap": "no one in this group has both a human and a model score"}})
            continue
        mg = float(s[k] / n[k])
        rows.append({"group": grp, "label": grouping.label(grp), "n": int(n[k]), "mean_model": float(sm[k] / n[k]),
                     "mean_human": float(sh[k] / n[k]), "mean_gap": mg,
                     "gap_vs_overall": mg - overall if overall is not None else None, "why_missing": {}})
    return {"overall_gap": overall, "n_with_both": int(both.sum()), "groups": rows,
            "method": "mean of (model score - human score) per group"}
