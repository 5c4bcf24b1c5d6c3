"""What an audit returns: figures per group and stage, findings, and a suggested outcome.

Every figure that cannot be computed is ``None`` with the reason in ``why_missing`` (never NaN),
so a report can say *why* a ratio is absent, and every figure traces back to its counts.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

import numpy as np

from vbr.models import Decision

Severity = Literal["block", "review", "info"]
_ORDER = {Decision.PASS: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}
_SEVERITY_DECISION = {"block": Decision.BLOCK, "review": Decision.REVIEW, "info": Decision.PASS}


def worst(decisions: Iterable[Decision]) -> Decision:
    """BLOCK over REVIEW over PASS; PASS for no decisions."""
    return max(decisions, key=_ORDER.__getitem__, default=Decision.PASS)


@dataclass(frozen=True)
class Finding:
    """A data-quality or evidence finding. ``block`` stops a shortlist; ``review`` needs a person."""

    code: str
    severity: Severity
    message: str
    stage: str | None = None
    group: str | None = None
    count: int | None = None
    row: int | None = None

    @property
    def decision(self) -> Decision:
        return _SEVERITY_DECISION[self.severity]


@dataclass
class GroupRow:
    """One group at one stage transition (``from_stage`` → ``stage``)."""

    group: str
    label: str
    applicants: int
    selected: int
    rate: float | None = None
    rate_ci: tuple[float, float] | None = None
    impact_ratio: float | None = None
    ratio_ci: tuple[float, float | None] | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    detectable_ratio: float | None = None
    flip_flop: bool | None = None
    shortfall: int | None = None
    share: float | None = None
    is_reference: bool = False
    excluded: str | None = None
    verdict: str = "not_assessed"
    verdict_text: str = ""
    outcome: Decision = Decision.PASS
    why_missing: dict[str, str] = field(default_factory=dict)
    stratified: dict[str, Any] | None = None


@dataclass
class StageResult:
    """All groups at one transition, with the comparison group and the stage's suggested outcome."""

    table: str  # "ethnicity", "sex", "sex x ethnicity", "scoring rate", ...
    from_stage: str
    stage: str
    groups: list[GroupRow]
    reference: str | None
    reference_rate: float | None
    total: int
    unknown: int
    declaration_rate: float | None
    outcome: Decision = Decision.PASS
    reasons: list[str] = field(default_factory=list)
    method: dict[str, Any] = field(default_factory=dict)


@dataclass
class RegimeResult:
    """What a regime found: stage tables, extra tables, findings and a suggested outcome."""

    regime: str
    title: str
    stages: list[StageResult]
    findings: list[Finding] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)
    outcome: Decision = Decision.PASS
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def decide(self) -> None:
        """Set :attr:`outcome` and :attr:`reasons` from the stages and findings."""
        parts = [(s.outcome, r) for s in self.stages for r in s.reasons]
        parts += [(f.decision, f.message) for f in self.findings if f.severity != "info"]
        self.outcome = worst([s.outcome for s in self.stages] + [f.decision for f in self.findings])
        reasons = [r for d, r in parts if d == self.outcome and self.outcome != Decision.PASS]
        self.reasons = list(dict.fromkeys(reasons)) or (
            ["no group shows adverse impact on the evidence available, and the data reconcile"]
            if self.outcome == Decision.PASS else [])


def json_safe(obj: Any) -> Any:
    """Plain JSON types only: NaN/inf become None, numpy scalars become Python numbers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: json_safe(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def num(value: Any, why: str, why_missing: dict[str, str], key: str) -> float | None:
    """A finite float, or None with ``why`` recorded under ``key``."""
    if value is None:
        why_missing[key] = why
        return None
    f = float(value)
    if math.isfinite(f):
        return f
    why_missing[key] = why
    return None
