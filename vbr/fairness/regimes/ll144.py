"""New York City Local Law 144 bias-audit tables (6 RCNY § 5-301).

For a tool that selects: the selection rate of each category and its impact ratio against the
most-selected category. For a tool that scores: the *scoring rate* (share of the category
scoring above the median of the whole sample) and its ratio against the highest scoring rate.
Tables for race/ethnicity (the grouping passed), for sex and for every sex × race/ethnicity
intersection, at every stage of the funnel. People of unknown category are counted and reported
(an intersection is unknown when either part is). A category under ``ll144_min_share`` (2 %) of
the people at that stage is left out of the impact ratios, with that reason, and its counts are
still shown.

The law sets no pass mark. The suggested outcome applies vbr's configured thresholds (ratio
0.80, significance after adjustment, small-number checks) to the included categories, so the
gate reads LL144 tables the same way as UGESP ones.
"""

from __future__ import annotations

import numpy as np

from vbr.fairness.config import AuditConfig
from vbr.fairness.counts import AuditCounts
from vbr.fairness.groupings import UNKNOWN, Grouping
from vbr.fairness.regimes.common import analyse
from vbr.fairness.results import RegimeResult
from vbr.fairness.scores import scoring_counts


def _small(n: np.ndarray, share: float, unknown_last: bool = True) -> dict[int, str]:
    total = n.sum()
    out = {}
    for i in range(len(n) - (1 if unknown_last else 0)):
        if total and 0 < n[i] < share * total:
            out[i] = (f"under {share:.0%} of the sample ({n[i] / total:.1%}): left out of impact ratios "
                      "(LL144 permits this); counts still shown")
    return out


def _sex_axis(counts: AuditCounts) -> tuple[list[int], int | None]:
    known = [i for i, s in enumerate(counts.sexes) if s != UNKNOWN]
    unk = counts.sexes.index(UNKNOWN) if UNKNOWN in counts.sexes else None
    return known, unk


def ll144_tables(n3: np.ndarray, x3: np.ndarray, counts: AuditCounts, grouping: Grouping):
    """From ``[sex, group]`` counts: (name, groups, labels, n, x) for race, sex and intersections."""
    groups = grouping.all_groups
    labels = tuple(grouping.label(g) for g in groups)
    out = [("race/ethnicity", groups, labels, n3.sum(axis=0), x3.sum(axis=0))]
    if not counts.has_sex:
        return out
    known, unk = _sex_axis(counts)
    sex_groups = tuple(counts.sexes[i] for i in known) + (UNKNOWN,)
    ns, xs = n3.sum(axis=1), x3.sum(axis=1)
    n_sex = np.array([ns[i] for i in known] + [ns[unk] if unk is not None else 0])
    x_sex = np.array([xs[i] for i in known] + [xs[unk] if unk is not None else 0])
    out.append(("sex", sex_groups, sex_groups, n_sex, x_sex))
    g_known = len(groups) - 1
    inter_groups, inter_labels, n_i, x_i = [], [], [], []
    for s in known:
        for g in range(g_known):
            inter_groups.append(f"{counts.sexes[s]} / {groups[g]}")
            inter_labels.append(f"{counts.sexes[s]} / {labels[g]}")
            n_i.append(n3[s, g])
            x_i.append(x3[s, g])
    known_mask = np.zeros_like(n3, dtype=bool)
    known_mask[np.ix_(known, np.arange(g_known))] = True
    inter_groups.append(UNKNOWN)
    inter_labels.append(UNKNOWN + " (sex or race/ethnicity unknown)")
    n_i.append(n3[~known_mask].sum())
    x_i.append(x3[~known_mask].sum())
    out.append(("sex x race/ethnicity", tuple(inter_groups), tuple(inter_labels), np.array(n_i), np.array(x_i)))
    return out


class LL144:
    id = "ll144"
    title = "NYC Local Law 144 bias audit: selection and scoring rates, impact ratios, intersections"

    def audit(self, counts: AuditCounts, config: AuditConfig, *, grouping: Grouping,
              reference: str | None = None) -> RegimeResult:
        result = RegimeResult(regime=self.id, title=self.title, stages=[])
        st = counts.stages
        work = []
        if not (counts.scores is not None and st[1:] == ("scored",)):
            for k in range(1, len(st)):
                gc = counts.grouped(grouping, st[k - 1], st[k])
                work.append(("selection rate", st[k - 1], st[k], gc.base.sum(axis=0), gc.selected.sum(axis=0)))
        median = None
        if counts.scores is not None:
            scored, above, median = scoring_counts(counts, grouping)
            work.append(("scoring rate", "scored", "above median", scored, above))
        unknowns = []
        for kind, earlier, later, n3, x3 in work:
            for name, groups, labels, n, x in ll144_tables(n3, x3, counts, grouping):
                excluded = _small(n, config.ll144_min_share)
                stage, findings = analyse(
                    table=f"{name} ({kind})", from_stage=earlier, stage=later, groups=groups, labels=labels,
                    n=n, x=x, config=config, reference=reference if name == "race/ethnicity" else None,
                    excluded=excluded)
                stage.method["rate"] = kind
                result.stages.append(stage)
                result.findings += findings
                unknowns.append({"table": name, "rate": kind, "from_stage": earlier, "stage": later,
                                 "unknown": int(n[-1]), "total": int(n.sum())})
        result.tables["unknown_counts"] = unknowns
        if median is not None:
            result.tables["score_median"] = median
        result.notes.append("LL144 sets no pass mark; the suggested outcome applies vbr's thresholds to the "
                            "included categories. Categories under "
                            f"{config.ll144_min_share:.0%} of the sample are excluded from impact ratios only.")
        result.decide()
        return result
