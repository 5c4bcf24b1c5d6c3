"""Adverse-impact measurement across ethnic groups, computed from counts.

Public API::

    from vbr.fairness import selection_audit, AuditConfig
    result = selection_audit(selected, groups, regime="ugesp")   # or "ll144", "wres"
    result.outcome      # vbr.models.Decision: suggested PASS / REVIEW / BLOCK
    result.to_dict()    # JSON-safe figures, verdicts, findings
    result.to_frame()   # one row per table x stage x group

Rows are reduced to a count table once (:mod:`vbr.fairness.counts`); statistics
(:mod:`vbr.fairness.stats`) and regimes (:mod:`vbr.fairness.regimes`) work on the counts.
Importing this package imports no equality store and no gate.
"""

from vbr.fairness.audit import AuditResult, audit_counts, get_regime, selection_audit
from vbr.fairness.config import AuditConfig
from vbr.fairness.counts import AuditCounts, count
from vbr.fairness.groupings import UNKNOWN, Grouping, builtin_grouping, load_grouping_file, resolve_grouping
from vbr.fairness.results import Finding, GroupRow, RegimeResult, StageResult

__all__ = [
    "selection_audit", "audit_counts", "get_regime", "AuditResult", "AuditConfig", "AuditCounts", "count",
    "Grouping", "UNKNOWN", "builtin_grouping", "load_grouping_file", "resolve_grouping",
    "Finding", "GroupRow", "RegimeResult", "StageResult",
]
