"""UGESP four-fifths rule (29 CFR 1607.4(D)) with significance and small-number checks.

Each group's selection rate is divided by the comparison group's (the highest rate, or a chosen
reference) at every stage of the funnel and for the funnel as a whole. Beside each ratio: a
one-sided exact test adjusted across groups, intervals, the detectable ratio, flip-flop and
shortfall; see :mod:`vbr.fairness.regimes.common` for the verdict rules. With strata (campaigns
or sites), Mantel–Haenszel pooling, the CMH test and Breslow–Day/Tarone homogeneity are added.
"""

from __future__ import annotations

from vbr.fairness.config import AuditConfig
from vbr.fairness.counts import AuditCounts
from vbr.fairness.groupings import Grouping
from vbr.fairness.regimes.common import analyse
from vbr.fairness.results import RegimeResult


def funnel_transitions(counts: AuditCounts) -> list[tuple[str, str]]:
    """Consecutive transitions, then applied → last stage when the funnel has more than one step."""
    st = counts.stages
    pairs = [(st[k - 1], st[k]) for k in range(1, len(st))]
    if len(st) > 2:
        pairs.append((st[0], st[-1]))
    return pairs


class UGESP:
    id = "ugesp"
    title = "UGESP four-fifths rule with significance and small-number checks"

    def audit(self, counts: AuditCounts, config: AuditConfig, *, grouping: Grouping,
              reference: str | None = None) -> RegimeResult:
        result = RegimeResult(regime=self.id, title=self.title, stages=[])
        for earlier, later in funnel_transitions(counts):
            gc = counts.grouped(grouping, earlier, later)
            n, x = gc.by_group()
            sn, sx = gc.by_stratum_group()
            stage, findings = analyse(
                table="ethnicity", from_stage=earlier, stage=later, groups=gc.groups, labels=gc.labels,
                n=n, x=x, config=config, reference=reference, strata_n=sn, strata_x=sx, strata=gc.strata)
            result.stages.append(stage)
            result.findings += findings
        result.notes.append("UGESP sets four-fifths as a rule of thumb; significance and the small-number "
                            "checks say how much weight each ratio can bear.")
        result.decide()
        return result
