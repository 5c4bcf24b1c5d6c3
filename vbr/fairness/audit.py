"""The public audit API: :func:`selection_audit` on arrays, :func:`audit_counts` on a count table.

Flow: validate and count once (:func:`vbr.fairness.counts.count`), check the data
(reconciliation, unknown codes), run the regime found through the plugin system on the counts,
optionally cross-check the rates with fairlearn's ``MetricFrame``, and suggest an outcome
(``PASS``/``REVIEW``/``BLOCK``) with reasons. The gate decides; this module only measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vbr.errors import NotFound, ValidationFailed
from vbr.fairness.config import AuditConfig
from vbr.fairness.counts import AuditCounts, count
from vbr.fairness.groupings import Grouping, nhs_categories, resolve_grouping
from vbr.fairness.results import Finding, RegimeResult, json_safe, worst
from vbr.fairness.scores import score_analysis
from vbr.models import Decision

SCHEMA_VERSION = 1


@dataclass
class AuditResult:
    """Figures, findings and the suggested outcome of one audit. See :meth:`to_dict` for the shape."""

    regime: RegimeResult
    grouping: Grouping
    config: AuditConfig
    counts: AuditCounts
    findings: list[Finding]
    outcome: Decision
    reasons: list[str]
    fairlearn: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] | None = None

    @property
    def decision(self) -> Decision:
        """Alias of :attr:`outcome`: the suggested gate decision."""
        return self.outcome

    def stage(self, stage: str, table: str | None = None):
        """The :class:`~vbr.fairness.results.StageResult` for the transition ending at ``stage``."""
        for s in self.regime.stages:
            if s.stage == stage and (table is None or s.table == table):
                return s
        raise NotFound(f"no result for stage {stage!r}" + (f" in table {table!r}" if table else ""))

    def counts_table(self) -> dict[str, Any]:
        """People reaching each stage per stratum and group: the figures every rate traces to."""
        m = self.counts.group_matrix(self.grouping)
        reached = np.stack([self.counts.reached(k).sum(axis=1) @ m for k in range(len(self.counts.stages))], axis=-1)
        return {"strata": list(self.counts.strata), "groups": list(self.grouping.all_groups),
                "stages": list(self.counts.stages),
                "reached": [{g: reached[s, i].tolist() for i, g in enumerate(self.grouping.all_groups)}
                            for s in range(len(self.counts.strata))]}

    def to_dict(self) -> dict[str, Any]:
        """The audit as plain JSON types (no NaN or inf: absent figures are None, with the reason
        in the row's ``why_missing``). Shape (schema 1)::

            schema: 1
            regime: {id, title}
            grouping: {id, title, source, groups: {group: [codes]}}
            config: AuditConfig fields
            n_rows: int; stages: ["applied", "shortlisted", ...]
            outcome: "PASS" | "REVIEW" | "BLOCK"        # suggested gate decision
            reasons: [str]                              # why that outcome, in words
            findings: [{code, severity: block|review|info, message, stage, group, count, row}]
            data_quality: {funnel_reconciles: bool,
                           unknown_codes: {stage: {raw code ("" = blank): count}},
                           declaration_rate: {stage: float | None}}
            results: [ # one per table x stage transition
                {table, from_stage, stage, reference, reference_rate, total, unknown, declaration_rate,
                 outcome, reasons, method: {...},
                 groups: [{group, label, applicants, selected, rate, rate_ci: [lo, hi], impact_ratio,
                           ratio_ci: [lo, hi|None], p_value, p_adjusted, detectable_ratio, flip_flop,
                           shortfall, share, is_reference, excluded, verdict, verdict_text,
                           outcome, why_missing: {field: reason}, stratified: {...} | None}]}]
            tables: regime extras (LL144 unknown_counts/score_median; WRES indicator_2 and
                    relative_likelihood_by_stage)
            notes: [str]
            counts: {strata, groups, stages, reached: [{group: [count per stage]} per stratum]}
            scores: None | {reference, comparison, median, groups: [...], human_vs_model?: {...}}
            fairlearn_checked: bool; fairlearn_max_difference: float | None; fairlearn_note: str

        Finding codes: ``funnel_does_not_reconcile`` (block), ``codes_not_in_grouping``,
        ``low_declaration_rate``, ``no_known_category``, ``simpson``, ``heterogeneous_strata``
        (review), ``unknown_codes``, ``no_one_selected`` (block), ``fairlearn_mismatch`` (block).
        """
        c = self.counts
        data = {
            "schema": SCHEMA_VERSION,
            "regime": {"id": self.regime.regime, "title": self.regime.title},
            "grouping": self.grouping.describe(),
            "config": self.config.model_dump(mode="json"),
            "n_rows": c.n_rows,
            "stages": list(c.stages),
            "outcome": self.outcome.value,
            "reasons": list(self.reasons),
            "findings": self.findings,
            "data_quality": {
                "funnel_reconciles": not any(f.code == "funnel_does_not_reconcile" for f in self.findings),
                "unknown_codes": {s: c.unknown_codes(self.grouping, s) for s in c.stages},
                "declaration_rate": _declaration(c, self.grouping),
            },
            "results": self.regime.stages,
            "tables": self.regime.tables,
            "notes": self.regime.notes,
            "counts": self.counts_table(),
            "scores": self.scores,
            "fairlearn_checked": bool(self.fairlearn.get("checked", False)),
            "fairlearn_max_difference": self.fairlearn.get("max_difference"),
            "fairlearn_note": self.fairlearn.get("note"),
        }
        return json_safe(data)

    def to_frame(self) -> pd.DataFrame:
        """One row per table × stage transition × group, with every figure and the verdict."""
        recs = []
        for s in self.regime.stages:
            for r in s.groups:
                recs.append({
                    "regime": self.regime.regime, "table": s.table, "from_stage": s.from_stage, "stage": s.stage,
                    "group": r.group, "label": r.label, "applicants": r.applicants, "selected": r.selected,
                    "rate": r.rate, "rate_ci_low": r.rate_ci[0] if r.rate_ci else None,
                    "rate_ci_high": r.rate_ci[1] if r.rate_ci else None, "share": r.share,
                    "impact_ratio": r.impact_ratio, "ratio_ci_low": r.ratio_ci[0] if r.ratio_ci else None,
                    "ratio_ci_high": r.ratio_ci[1] if r.ratio_ci else None, "p_value": r.p_value,
                    "p_adjusted": r.p_adjusted, "detectable_ratio": r.detectable_ratio, "flip_flop": r.flip_flop,
                    "shortfall": r.shortfall, "is_reference": r.is_reference, "excluded": r.excluded,
                    "verdict": r.verdict, "verdict_text": r.verdict_text, "outcome": r.outcome.value,
                })
        return pd.DataFrame.from_records(recs)


def _declaration(c: AuditCounts, grouping: Grouping) -> dict[str, float | None]:
    m = c.group_matrix(grouping)
    out = {}
    for k, s in enumerate(c.stages):
        per = c.reached(k).sum(axis=(0, 1)) @ m
        tot = int(per.sum())
        out[s] = (tot - int(per[-1])) / tot if tot else None
    return out


def get_regime(regime: Any):
    """A regime object from an id registered through the plugin system, or the object itself."""
    if not isinstance(regime, str):
        if hasattr(regime, "audit") and hasattr(regime, "id"):
            return regime
        raise ValidationFailed(f"regime must be an id or a regime object, got {type(regime).__name__}", field="regime")
    from vbr.plugins import get_plugins

    regimes = get_plugins().registry("regimes")
    if regime not in regimes:
        raise NotFound(f"unknown regime {regime!r}", field="regime", hint=f"available: {', '.join(sorted(regimes))}")
    return regimes[regime]


def data_findings(c: AuditCounts, grouping: Grouping) -> list[Finding]:
    """Data-quality findings every regime shares: reconciliation and unknown codes."""
    out: list[Finding] = []
    for stage, v in c.violations().items():
        k = c.stages.index(stage)
        out.append(Finding(
            "funnel_does_not_reconcile", "block",
            f"{int(v.sum())} row(s) reached '{stage}' without reaching '{c.stages[k - 1]}': the figures do not "
            f"reconcile (first at row {c.first_violation_row.get(stage)}); those rows are left out of the "
            f"'{stage}' rates until the data is corrected", stage=stage, count=int(v.sum()),
            row=c.first_violation_row.get(stage)))
    unknown = c.unknown_codes(grouping, 0)
    if unknown:
        names, nhs_unknown = nhs_categories()
        listed = ", ".join(f"{code or 'blank'}: {n}" for code, n in unknown.items())
        out.append(Finding("unknown_codes", "info",
                           f"{sum(unknown.values())} applicant(s) have no group in '{grouping.id}' ({listed}); "
                           "they are counted and reported, not compared", stage=c.stages[0],
                           count=sum(unknown.values())))
        strange = {code: n for code, n in unknown.items() if code and code not in nhs_unknown}
        if strange:
            out.append(Finding("codes_not_in_grouping", "review",
                               f"code(s) not in grouping '{grouping.id}': "
                               + ", ".join(f"{code!r} ({n} rows)" for code, n in strange.items())
                               + ": check the equality data or the grouping", stage=c.stages[0],
                               count=sum(strange.values())))
    m = c.group_matrix(grouping)
    per = c.reached(0).sum(axis=(0, 1)) @ m
    if per[:-1].sum() == 0:
        out.append(Finding("no_known_category", "review",
                           "no applicant has a known ethnic category: nothing can be compared", stage=c.stages[0]))
    return out


def fairlearn_check(c: AuditCounts, grouping: Grouping) -> dict[str, Any]:
    """Per-group selection rates from fairlearn's MetricFrame vs the count-based rates, every stage."""
    from fairlearn.metrics import MetricFrame, selection_rate

    labels = np.array(grouping.all_groups, dtype=object)[grouping.index(c.codes)][c.rows.code_index]
    m = c.group_matrix(grouping)
    max_diff = 0.0
    for k in range(1, len(c.stages)):
        earlier = np.ones(len(labels), dtype=bool) if k == 1 else ((c.rows.pattern >> (k - 2)) & 1).astype(bool)
        if not earlier.any():
            continue
        y = ((c.rows.pattern[earlier] >> (k - 1)) & 1).astype(int)
        sf = pd.Series(labels[earlier], name="group")  # a Series: fairlearn squeezes a 1-row array to 0-d
        mf = MetricFrame(metrics=selection_rate, y_true=y, y_pred=y, sensitive_features=sf)
        base, sel = c.transition(k - 1, k)
        base, sel = base.sum(axis=(0, 1)) @ m, sel.sum(axis=(0, 1)) @ m
        for group, rate in mf.by_group.items():
            i = grouping.all_groups.index(group)
            max_diff = max(max_diff, abs(float(rate) - sel[i] / base[i]))
    return {"checked": True, "max_difference": max_diff,
            "note": "per-group selection rates recomputed with fairlearn MetricFrame(selection_rate) at every stage"}


def audit_counts(
    counts: AuditCounts, *, regime: Any = "ugesp", grouping: str | Path | Grouping = "detailed",
    reference: str | None = None, config: AuditConfig | dict | None = None,
) -> AuditResult:
    """Audit an existing :class:`AuditCounts` table (for example counts read from a store)."""
    cfg = config if isinstance(config, AuditConfig) else AuditConfig(**(config or {}))
    grp = resolve_grouping(grouping)
    reg = get_regime(regime)
    findings = data_findings(counts, grp)
    result = reg.audit(counts, cfg, grouping=grp, reference=reference)
    scores = None
    if counts.scores is not None:
        scores = score_analysis(counts, grp, cfg, reference)
    all_findings = findings + list(result.findings)
    outcome = worst([result.outcome] + [f.decision for f in findings])
    reasons = [f.message for f in findings if f.decision == outcome and outcome != Decision.PASS]
    if result.outcome == outcome:
        reasons += [r for r in result.reasons if r not in reasons]
    return AuditResult(regime=result, grouping=grp, config=cfg, counts=counts, findings=all_findings,
                       outcome=outcome, reasons=reasons or list(result.reasons), scores=scores,
                       fairlearn={"checked": False, "max_difference": None,
                                  "note": "counts given directly: no rows to cross-check"})


def selection_audit(
    selected: Any,
    groups: Any,
    *,
    regime: Any = "ugesp",
    strata: Any = None,
    reference: str | None = None,
    grouping: str | Path | Grouping = "detailed",
    config: AuditConfig | dict | None = None,
    scores: Any = None,
    sex: Any = None,
    human_scores: Any = None,
) -> AuditResult:
    """Audit selection outcomes across ethnic groups.

    Parameters
    ----------
    selected:
        0/1 outcomes per applicant (one array-like), or a funnel: a mapping or DataFrame of stage
        name → 0/1 column in order (e.g. ``{"shortlisted": s, "interviewed": i, "appointed": a}``).
        ``None`` with ``scores`` audits scores only (LL144 scoring rates).
    groups:
        NHS ethnic category codes per applicant (``A``..``S``; ``Z``, ``99``, blanks are unknown).
    regime:
        ``"ugesp"`` (default), ``"ll144"``, ``"wres"``, any id registered by a plugin, or a regime object.
    strata:
        Optional campaign/site per applicant: adds Mantel–Haenszel, CMH and Breslow–Day/Tarone.
    reference:
        Group to compare against instead of the highest-rate group.
    grouping:
        ``"detailed"`` (default), ``"broad"``, ``"wres"``, a registered id, a path to a YAML/CSV
        grouping file, or a :class:`Grouping`.
    config:
        :class:`AuditConfig` or a dict of its fields.
    scores, human_scores:
        Optional model scores (and human scores) per applicant: distributions, SMDs, scoring rates
        and the human-vs-model gap. ``sex``: optional, for LL144 sex and intersection tables.

    Raises :class:`vbr.errors.ValidationFailed` naming the row and field for malformed input.
    """
    cfg = config if isinstance(config, AuditConfig) else AuditConfig(**(config or {}))
    grp = resolve_grouping(grouping)
    limit = cfg.fairlearn_check_limit if cfg.fairlearn_check else -1
    counts = count(selected, groups, strata=strata, sex=sex, scores=scores, human_scores=human_scores,
                   known_codes=tuple(grp.code_to_group), keep_rows_limit=limit)
    result = audit_counts(counts, regime=regime, grouping=grp, reference=reference, config=cfg)
    if counts.rows is not None:
        try:
            result.fairlearn = fairlearn_check(counts, grp)
        except Exception as exc:  # noqa: BLE001 - the oracle failing is reported, not a crash of the audit
            result.fairlearn = {"checked": False, "max_difference": None,
                                "note": f"fairlearn cross-check failed to run: {type(exc).__name__}: {exc}"}
        if result.fairlearn["checked"] and result.fairlearn["max_difference"] > 1e-9:
            f = Finding("fairlearn_mismatch", "block",
                        f"internal cross-check failed: fairlearn MetricFrame rates differ from the count-based "
                        f"rates by {result.fairlearn['max_difference']:.3g}; please report this")
            result.findings.append(f)
            result.outcome, result.reasons = Decision.BLOCK, [f.message] + (
                result.reasons if result.outcome == Decision.BLOCK else [])
    else:
        why = ("switched off in the configuration" if not cfg.fairlearn_check
               else f"{counts.n_rows} rows is above the cross-check limit of {cfg.fairlearn_check_limit}")
        result.fairlearn = {"checked": False, "max_difference": None, "note": f"fairlearn cross-check not run: {why}"}
    return result
