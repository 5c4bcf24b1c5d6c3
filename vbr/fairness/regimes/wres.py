"""NHS WRES indicator 2: relative likelihood of White applicants being appointed from shortlisting
compared with BME applicants.

``RL = (White appointed / White shortlisted) ÷ (BME appointed / BME shortlisted)``; RL > 1 means
White applicants are more likely to be appointed. The interval is Koopman's score interval for
the ratio of the two rates. Codes are grouped White/BME with the ``wres`` grouping (or the
grouping passed, if it has groups named exactly ``White`` and ``BME``).

Indicator 2 runs from ``shortlisted`` to ``appointed`` when both stages exist; otherwise from the
second-to-last stage to the last, and the result says so. RL is also given for every transition.

Suggested outcome (WRES itself sets no pass mark; these are vbr's readings, configurable band):

* RL inside ``wres_band`` (default 0.80–1.25): no material difference, PASS.
* RL above the band and the interval's lower limit above 1: White applicants significantly more
  likely to be appointed, BLOCK.
* otherwise outside the band, or either group below ``min_group_size``: REVIEW.
"""

from __future__ import annotations

from typing import Any


from vbr.fairness import stats
from vbr.fairness.config import AuditConfig
from vbr.fairness.counts import AuditCounts
from vbr.fairness.groupings import Grouping, builtin_grouping
from vbr.fairness.regimes.common import analyse
from vbr.fairness.results import RegimeResult, num, worst
from vbr.models import Decision


def relative_likelihood(white_sel: int, white_n: int, bme_sel: int, bme_n: int, config: AuditConfig) -> dict[str, Any]:
    """RL with interval, verdict and suggested outcome from four counts."""
    why: dict[str, str] = {}
    lo_b, hi_b = config.wres_band
    out: dict[str, Any] = {"white_selected": white_sel, "white_base": white_n, "bme_selected": bme_sel,
                           "bme_base": bme_n, "band": [lo_b, hi_b]}
    if white_n == 0 or bme_n == 0:
        missing = "White" if white_n == 0 else "BME"
        for k in ("white_rate", "bme_rate", "relative_likelihood", "ci_low", "ci_high"):
            why[k] = f"no {missing} applicants at the earlier stage"
        out.update(white_rate=None, bme_rate=None, relative_likelihood=None, ci_low=None, ci_high=None,
                   verdict="no_comparison", verdict_text=f"no {missing} applicants: the indicator cannot be computed",
                   outcome=Decision.REVIEW, why_missing=why)
        return out
    wr, br = white_sel / white_n, bme_sel / bme_n
    out.update(white_rate=wr, bme_rate=br)
    lo, hi = stats.koopman_ratio_interval(white_sel, white_n, bme_sel, bme_n, config.confidence)
    if white_sel == 0 and bme_sel == 0:
        rl = None
        why["relative_likelihood"] = "no one was selected: the indicator is undefined"
    elif bme_sel == 0:
        rl = None
        why["relative_likelihood"] = "no BME applicant was selected: White applicants infinitely more likely"
    else:
        rl = wr / br
    out["relative_likelihood"] = rl
    out["ci_low"] = num(lo[()], why.get("relative_likelihood", "undefined"), why, "ci_low")
    out["ci_high"] = num(hi[()], "no upper limit: no BME applicant was selected", why, "ci_high")
    small = min(white_n, bme_n) < config.min_group_size
    if white_sel == 0 and bme_sel == 0:
        verdict, text, outcome = "no_one_selected", "no one was selected: nothing to compare", Decision.PASS
    elif rl is not None and lo_b <= rl <= hi_b:
        verdict, text, outcome = "no_material_difference", f"no material difference (RL within {lo_b:.2f}–{hi_b:.2f})", Decision.PASS
    elif small:
        verdict, text, outcome = "too_few", "RL outside the band but too few applicants to conclude: review", Decision.REVIEW
    elif (rl is None or rl > hi_b) and out["ci_low"] is not None and out["ci_low"] > 1:
        verdict, text, outcome = ("white_more_likely_significant",
                                  "White applicants significantly more likely to be appointed", Decision.BLOCK)
    elif rl is None or rl > hi_b:
        verdict, text, outcome = ("white_more_likely_not_significant",
                                  "White applicants more likely to be appointed, not statistically significant: review",
                                  Decision.REVIEW)
    else:
        verdict, text, outcome = ("bme_more_likely", "BME applicants more likely to be appointed (RL below the band): "
                                                     "review", Decision.REVIEW)
    out.update(verdict=verdict, verdict_text=text, outcome=outcome, why_missing=why)
    return out


class WRES:
    id = "wres"
    title = "NHS WRES indicator 2: relative likelihood of appointment from shortlisting (White vs BME)"

    def audit(self, counts: AuditCounts, config: AuditConfig, *, grouping: Grouping,
              reference: str | None = None) -> RegimeResult:
        grp = grouping if set(grouping.groups) == {"White", "BME"} else builtin_grouping("wres")
        result = RegimeResult(regime=self.id, title=self.title, stages=[])
        st = counts.stages
        if "shortlisted" in st and "appointed" in st and st.index("shortlisted") < st.index("appointed"):
            earlier, later = "shortlisted", "appointed"
        else:
            earlier, later = st[-2], st[-1]
            result.notes.append(f"indicator 2 is defined from shortlisting to appointment; no such stages were "
                                f"given, so it is computed from '{earlier}' to '{later}'")
        w, b = grp.groups.index("White"), grp.groups.index("BME")
        transitions = [(st[k - 1], st[k]) for k in range(1, len(st))]
        if (earlier, later) not in transitions:
            transitions.append((earlier, later))
        by_stage = []
        for e, l in transitions:
            gc = counts.grouped(grp, e, l)
            n, x = gc.by_group()
            rl = relative_likelihood(int(x[w]), int(n[w]), int(x[b]), int(n[b]), config)
            rl.update(from_stage=e, stage=l, unknown=int(n[-1]))
            by_stage.append(rl)
            stage, findings = analyse(table="White/BME", from_stage=e, stage=l, groups=gc.groups, labels=gc.labels,
                                      n=n, x=x, config=config, reference="White")
            for row in stage.groups:  # the WRES reading replaces the four-fifths verdicts
                if row.group == "BME" and row.applicants:
                    row.verdict, row.verdict_text, row.outcome = rl["verdict"], rl["verdict_text"], rl["outcome"]
            stage.outcome = worst([rl["outcome"]] + [f.decision for f in findings])
            stage.reasons = [f"WRES {e} → {l}: {rl['verdict_text']}"] if rl["outcome"] != Decision.PASS else []
            stage.reasons += [f.message for f in findings if f.decision == stage.outcome and f.decision != Decision.PASS]
            stage.method["relative_likelihood"] = "(White rate) / (BME rate), Koopman score interval"
            if (e, l) == (earlier, later):
                result.stages.insert(0, stage)
                result.findings += findings
            else:
                result.stages.append(stage)
        headline = next(r for r in by_stage if (r["from_stage"], r["stage"]) == (earlier, later))
        result.tables["indicator_2"] = headline
        result.tables["relative_likelihood_by_stage"] = by_stage
        result.notes.append("WRES sets no pass mark; a band of 0.80-1.25 is commonly read as no material difference.")
        # only indicator 2 (and its stage's data findings) decides; other stages are context
        result.outcome = worst([headline["outcome"]] + [f.decision for f in result.findings])
        result.reasons = ([f"WRES indicator 2 ({earlier} → {later}): RL "
                           + (f"{headline['relative_likelihood']:.3f}" if headline["relative_likelihood"] is not None
                              else "undefined") + f": {headline['verdict_text']}"]
                          if headline["outcome"] == result.outcome else [])
        result.reasons += [f.message for f in result.findings if f.decision == result.outcome and f.decision != Decision.PASS]
        if not result.reasons:
            result.reasons = ["WRES indicator 2 within the band and the data reconcile"]
        return result
