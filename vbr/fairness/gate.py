"""The shortlist gate: no shortlist leaves vbr until an adverse-impact audit has run on it.

What the gate does with a proposed shortlist, in this order:

1. **Reconcile** the figures: every shortlisted id belongs to the campaign, no id appears twice,
   each later funnel stage is drawn from the stage before it. Anything that does not add up is a
   ``BLOCK`` with the reason, and no audit is run on figures that are known to be wrong.
2. **Audit** the funnel with :func:`vbr.fairness.selection_audit` under the configured regime
   (looked up in the plugin registry, so a plugin's regime works the same way as a built-in).
   Equality data is read from the separate :class:`~vbr.fairness.equality.EqualityStore`;
   an applicant without an equality record counts as *unknown* (never guessed).
3. **Decide** ``PASS`` / ``REVIEW`` / ``BLOCK`` (the worst of the reconciliation and the audit's
   own outcome; see :func:`decide`), **write** the decision and the figures it rested on to the
   store and the hash-chained log, and only then tell plugins (``vbr_audit_complete``, then
   ``vbr_shortlist_released`` or ``vbr_shortlist_held``) and return.

A shortlist under ``REVIEW`` or ``BLOCK`` is released only by :meth:`ShortlistGate.release`
with the equality-officer role and a written justification; the override is a new decision row
(the original stays) and a log entry naming who and why.

The gate never changes a score, a rank or the order of the shortlist: what is released is
exactly the list that was proposed, in the same order. A disparity means *hold, investigate,
justify* (Equality Act 2010), never a silent re-rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vbr.errors import GateHeld, PermissionDenied, ValidationFailed, VbrError
from vbr.fairness.config import AuditConfig
from vbr.fairness.equality import EqualityStore
from vbr.models import Decision, ShortlistDecision
from vbr.store.records import Store

SHORTLISTED = "shortlisted"
_ORDER = {Decision.PASS: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}


class GateConfig(BaseModel):
    """What the gate runs and how strict it is. Every field has a default; load from YAML with
    :meth:`from_yaml`. Statistical thresholds (the 0.80 line, alpha, minimum group size, the
    declaration rate ...) belong to the audit: ``audit`` is its
    :class:`~vbr.fairness.config.AuditConfig`, so there is one place that defines them.

    YAML (either at the top level or under a ``gate:`` key)::

        regime: ugesp
        grouping: broad
        min_justification_chars: 30
        audit: {ratio_threshold: 0.8, alpha: 0.05, min_group_size: 10}
    """

    model_config = ConfigDict(extra="forbid")

    regime: str = Field("ugesp", description="audit regime id from the plugin registry")
    grouping: str = Field("detailed", description="grouping id (detailed, broad, wres) or a grouping file path")
    reference: str | None = Field(None, description="comparator group; default: the highest-rate group")
    audit: AuditConfig = Field(default_factory=AuditConfig, description="the audit's thresholds")
    officer_role: str = Field("equality_officer", description="the role allowed to override a held shortlist")
    min_justification_chars: int = Field(20, ge=1, description="shortest justification accepted for an override")
    include_scores: bool = Field(True, description="audit each applicant's mean score level too (distributions, "
                                 "standardised mean differences, LL144 scoring rates)")
    auto_release_on_pass: bool = Field(True, description="a PASS releases at once (else needs release())")
    override_data_block: bool = Field(
        False, description="allow an officer to release a shortlist whose figures do not reconcile "
        "(ids not in the campaign, duplicates); off by default: fix the shortlist and propose it again")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "GateConfig":
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValidationFailed(f"cannot read the gate configuration: {exc}", file=str(path)) from exc
        if not isinstance(data, dict):
            raise ValidationFailed("the gate configuration must be a mapping of settings", file=str(path))
        data = data.get("gate", data)
        try:
            return cls(**data)
        except ValidationError as exc:
            problems = [ValidationFailed(e["msg"], file=str(path), field=".".join(map(str, e["loc"])))
                        for e in exc.errors()]
            raise ValidationFailed("invalid gate configuration", file=str(path), problems=problems) from exc



@dataclass
class GateResult:
    """What :meth:`ShortlistGate.propose` / :meth:`~ShortlistGate.evaluate` return, after the
    decision is stored. ``application_ids`` is the proposed list, unchanged and in order."""

    shortlist_id: int
    campaign_id: str
    decision: Decision
    reasons: tuple[str, ...]
    decision_id: int
    released: bool
    application_ids: list[str]
    figures: dict[str, Any]
    audit: Any = None
    warnings: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.released

    def to_dict(self) -> dict[str, Any]:
        return {"shortlist_id": self.shortlist_id, "campaign_id": self.campaign_id,
                "decision": self.decision.value, "reasons": list(self.reasons),
                "decision_id": self.decision_id, "released": self.released,
                "application_ids": list(self.application_ids), "figures": self.figures,
                "warnings": list(self.warnings)}


# ---------------------------------------------------------------------------- pure parts


def reconcile(campaign_ids: Sequence[str], proposed: Sequence[str],
              later: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Reasons the proposed figures do not add up (empty when they do)."""
    reasons: list[str] = []
    known = set(campaign_ids)
    if not known:
        reasons.append("the campaign has no applications, so there is nothing to audit")
    stages: list[tuple[str, Sequence[str]]] = [(SHORTLISTED, proposed), *(later or {}).items()]
    previous_name, previous = "applied", known
    for name, ids in stages:
        ids = [str(i) for i in ids]
        dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
        if dupes:
            reasons.append(f"{name}: {len(dupes)} application id(s) listed more than once: {_few(dupes)}")
        outside = [i for i in dict.fromkeys(ids) if i not in known]
        if outside:
            reasons.append(f"{name}: {len(outside)} id(s) are not applications in this campaign: {_few(outside)}")
        not_from_previous = [i for i in dict.fromkeys(ids) if i in known and i not in previous]
        if not_from_previous:
            reasons.append(f"{name}: {len(not_from_previous)} id(s) did not reach '{previous_name}' "
                           f"(more selected than were at the stage before): {_few(not_from_previous)}")
        previous_name, previous = name, set(ids)
    if not proposed:
        reasons.append("the proposed shortlist is empty")
    return reasons


def _few(ids: Sequence[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def audit_outcome(result: Any) -> tuple[Decision, list[str]]:
    """The audit's own suggested outcome and its reasons (see :class:`vbr.fairness.AuditResult`)."""
    decision = result.decision
    return Decision(decision.value if hasattr(decision, "value") else decision), list(result.reasons)


def decide(result: Any, data_reasons: Sequence[str] = ()) -> tuple[Decision, tuple[str, ...]]:
    """The gate's decision: ``BLOCK`` when there are ``data_reasons`` (figures that do not
    reconcile, an audit that could not run), else the audit's suggested outcome.

    The audit (issue 6 part 5) suggests ``BLOCK`` for adverse impact that is significant after
    adjustment or a data-quality finding of severity *block*; ``REVIEW`` for a ratio under the
    line without statistical support, a flip-flopping verdict, a group too small to conclude or
    a low declaration rate; ``PASS`` otherwise. The gate never softens that outcome.
    """
    reasons = list(data_reasons)
    decision = Decision.BLOCK if data_reasons else Decision.PASS
    if result is not None:
        suggested, why = audit_outcome(result)
        if _ORDER[suggested] > _ORDER[decision]:
            decision = suggested
        reasons.extend(why)
    elif not data_reasons:
        decision = Decision.BLOCK
        reasons.append("no audit was run")
    return decision, tuple(dict.fromkeys(reasons))


def clean(value: Any) -> Any:
    """JSON-safe figures: NaN and infinities become ``None`` (never 'NaN' in a report or the log)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        return clean(value.item())  # numpy scalar
    if hasattr(value, "tolist") and callable(value.tolist):
        return clean(value.tolist())
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):
        return value.value  # enums
    return value


# ---------------------------------------------------------------------------- the gate


class ShortlistGate:
    """Audit a proposed shortlist, record the decision, and release it only when allowed.

    ``plugins`` defaults to :func:`vbr.plugins.get_plugins`; pass a system built with
    :func:`vbr.plugins.build` to embed the gate with a chosen set of plugins.
    """

    def __init__(self, store: Store, equality: EqualityStore, *, config: GateConfig | None = None,
                 plugins: Any = None) -> None:
        self.store = store
        self.equality = equality
        self.config = config or GateConfig()
        self._plugins = plugins

    @property
    def plugins(self):
        if self._plugins is None:
            from vbr.plugins import get_plugins

            self._plugins = get_plugins()
        return self._plugins

    # ------------------------------------------------------------------ propose and evaluate
    def propose(self, campaign_id: str, application_ids: Sequence[str], *, actor: str,
                later_stages: Mapping[str, Sequence[str]] | None = None) -> GateResult:
        """Store the proposed shortlist as given, then :meth:`evaluate` it."""
        self.store.campaign(campaign_id)  # NotFound for an unknown campaign, before anything is stored
        self._regime()  # an unknown regime is a configuration error, not a decision
        sid = self.store.add_shortlist(campaign_id, [str(i) for i in application_ids],
                                       stage=SHORTLISTED, actor=actor)
        return self.evaluate(sid, actor=actor, later_stages=later_stages)

    def evaluate(self, shortlist_id: int, *, actor: str,
                 later_stages: Mapping[str, Sequence[str]] | None = None) -> GateResult:
        """Reconcile, audit, decide, record; then notify plugins and return."""
        shortlist = self.store.shortlist(shortlist_id)
        if self._released_row(shortlist_id) is not None:
            raise ValidationFailed(f"shortlist {shortlist_id} was already released; propose a new one to audit again",
                                   field="shortlist")
        campaign_id = shortlist["campaign_id"]
        regime = self._regime()
        proposed = list(shortlist["application_ids"])
        applicants = self.store.application_ids(campaign_id)
        data_reasons = [f"data does not reconcile: {r}" for r in reconcile(applicants, proposed, later_stages)]
        figures: dict[str, Any] = {
            "regime": regime, "grouping": self.config.grouping, "reference": self.config.reference,
            "applied": len(applicants), "shortlisted": len(proposed), "reconciliation": list(data_reasons),
            "config": self.config.model_dump(mode="json"),
        }
        result = None
        if not data_reasons:
            try:
                result, equality = self._audit(shortlist_id, applicants, proposed, later_stages, actor=actor)
            except VbrError as exc:  # the data could not be audited: that is a BLOCK, not a crash
                figures["audit_error"] = str(exc)
                data_reasons = [f"the audit could not run on this data: {exc}"]
            except Exception as exc:  # noqa: BLE001 - a fault in an audit (or a regime plugin) holds the shortlist
                figures["audit_error"] = f"{type(exc).__name__}: {exc}"
                data_reasons = [f"the audit failed ({type(exc).__name__}: {exc}); the shortlist is held - "
                                "please report this"]
            else:
                figures["equality_records"] = equality
                figures["audit"] = clean(result.to_dict())
        decision, reasons = decide(result, data_reasons)
        released = decision is Decision.PASS and self.config.auto_release_on_pass
        record = ShortlistDecision(
            campaign_id=campaign_id, stage=SHORTLISTED, decision=decision, reasons=reasons, regime=regime,
            audit_summary=clean(figures), released=released, released_by=actor if released else None)
        decision_id = self.store.record_decision(shortlist_id, record, actor=actor)
        out = GateResult(shortlist_id, campaign_id, decision, reasons, decision_id, released, proposed,
                         record.audit_summary, result)
        self._notify("vbr_audit_complete", out.warnings, shortlist_id, campaign_id=campaign_id,
                     audit={"shortlist_id": shortlist_id, "decision": decision.value,
                            "reasons": list(reasons), **record.audit_summary})
        if released:
            self._notify("vbr_shortlist_released", out.warnings, shortlist_id, campaign_id=campaign_id,
                         decision=record, application_ids=list(proposed))
        elif decision is not Decision.PASS:
            self._notify("vbr_shortlist_held", out.warnings, shortlist_id, campaign_id=campaign_id, decision=record)
        return out

    def _regime(self) -> str:
        """Check the configured regime (plugin registry) and grouping exist; return the regime id."""
        self._grouping()  # NotFound / ValidationFailed naming the grouping
        regimes = self.plugins.registry("regimes")
        if self.config.regime not in regimes:
            raise ValidationFailed(
                f"no audit regime '{self.config.regime}'", field="regime",
                hint=f"installed regimes: {', '.join(sorted(regimes)) or 'none'} (see `vbr plugins`)")
        return self.config.regime

    def _grouping(self):
        """The configured grouping: registered by a plugin of this gate's plugin system, built in, or a file."""
        from vbr.fairness.groupings import resolve_grouping

        registered = self.plugins.registry("groupings")
        if isinstance(self.config.grouping, str) and self.config.grouping in registered:
            return registered[self.config.grouping]
        return resolve_grouping(self.config.grouping)

    def _audit(self, shortlist_id: int, applicants: list[str], proposed: list[str],
               later: Mapping[str, Sequence[str]] | None, *, actor: str) -> tuple[Any, dict[str, int]]:
        records = self.equality.records_for(applicants, purpose=f"gate: shortlist {shortlist_id}", actor=actor)
        codes = [records[a].ethnic_code if a in records else None for a in applicants]
        sexes = [records[a].sex if a in records else None for a in applicants]
        stages: dict[str, list[bool]] = {}
        for name, ids in [(SHORTLISTED, proposed), *(later or {}).items()]:
            chosen = set(ids)
            stages[name] = [a in chosen for a in applicants]
        # the regime and grouping objects come from this gate's plugin system, not the process-wide one
        scores = None
        if self.config.include_scores:
            levels: dict[str, list[int]] = {}
            for row in self.store.current_scores(self.store.shortlist(shortlist_id)["campaign_id"]):
                levels.setdefault(row["application_id"], []).append(row["level"])
            if levels:  # mean current level; unscored applicants are NaN (counted, never imputed)
                scores = [sum(levels[a]) / len(levels[a]) if a in levels else math.nan for a in applicants]
        result = run_audit(stages, codes, config=self.config, scores=scores,
                           sex=sexes if any(s is not None for s in sexes) else None,
                           regime=self.plugins.registry("regimes")[self.config.regime], grouping=self._grouping())
        declared = sum(1 for c in codes if c)
        return result, {"applicants": len(applicants), "with_record": len(records), "with_code": declared}

    # ------------------------------------------------------------------ release
    def release(self, shortlist_id: int, *, actor: str, role: str | None = None,
                justification: str | None = None) -> list[str]:
        """Release a shortlist: the proposed ids, unchanged and in the same order.

        ``PASS``: released (idempotent). ``REVIEW``/``BLOCK``: only with a justification of at
        least ``min_justification_chars`` (:class:`GateHeld` without one, whoever asks) by the
        configured officer role (:class:`PermissionDenied` for anyone else). A shortlist blocked
        because its figures do not reconcile is never released (:class:`GateHeld`) unless
        ``override_data_block`` is set. The override is written to the store and the log before
        the ids are returned.
        """
        if not actor or not actor.strip():
            raise PermissionDenied("a release needs the name of the person releasing", field="actor")
        shortlist = self.store.shortlist(shortlist_id)
        ids = list(shortlist["application_ids"])
        if self._released_row(shortlist_id) is not None:
            return ids
        current = self._current(shortlist_id)
        if current is None:
            raise GateHeld(f"shortlist {shortlist_id} has not been audited yet",
                           hint="run the gate on it first (`vbr shortlist propose`)")
        decision: Decision = current["decision"]
        justification = (justification or "").strip() or None
        if decision is not Decision.PASS:
            officer = role == self.config.officer_role
            stored = current["audit"]
            if (stored.get("reconciliation") or stored.get("audit_error")) and not self.config.override_data_block:
                raise GateHeld(
                    f"shortlist {shortlist_id} is blocked because its figures do not reconcile or could not be "
                    "audited; it cannot be released", hint="correct the shortlist and propose it again")
            if justification is None or len(justification) < self.config.min_justification_chars:
                who = "" if officer else f" by the '{self.config.officer_role}' role"
                raise GateHeld(
                    f"shortlist {shortlist_id} is held ({decision.value}): it may be released only{who} with a "
                    f"justification of at least {self.config.min_justification_chars} characters",
                    field="justification", hint="say what was reviewed and why releasing is justified")
            if not officer:
                raise PermissionDenied(
                    f"shortlist {shortlist_id} is held ({decision.value}); only the '{self.config.officer_role}' "
                    f"role may release it, not '{role or 'none'}'", field="role",
                    hint="ask an equality officer to review the audit and release it with a justification")
        record = ShortlistDecision(
            campaign_id=shortlist["campaign_id"], stage=shortlist["stage"], decision=decision,
            reasons=tuple(current["reasons"]), regime=current["regime"],
            audit_summary={"override_of": current["id"] if decision is not Decision.PASS else None,
                           "decision_of": current["id"], "role": role, "decided_at": current["decided_at"],
                           "application_ids": ids},
            released=True, released_by=actor, justification=justification)
        self.store.record_decision(shortlist_id, record, actor=actor)
        warnings: list[str] = []
        self._notify("vbr_shortlist_released", warnings, shortlist_id, campaign_id=shortlist["campaign_id"],
                     decision=record, application_ids=list(ids))
        return ids

    # ------------------------------------------------------------------ status
    def status(self, shortlist_id: int) -> dict[str, Any]:
        """The shortlist, its current decision, whether it is released, and every decision row."""
        shortlist = self.store.shortlist(shortlist_id)
        rows = self.store.decisions(shortlist_id)
        current = self._current(shortlist_id, rows)
        released = self._released_row(shortlist_id, rows)
        return {
            "shortlist_id": shortlist_id, "campaign_id": shortlist["campaign_id"],
            "stage": shortlist["stage"], "application_ids": shortlist["application_ids"],
            "proposed_by": shortlist["created_by"], "proposed_at": shortlist["created_at"],
            "decision": current["decision"].value if current else None,
            "reasons": current["reasons"] if current else [],
            "released": released is not None,
            "released_by": released["released_by"] if released else None,
            "justification": released["justification"] if released else None,
            "history": [{k: (v.value if isinstance(v, Decision) else v) for k, v in r.items() if k != "audit"}
                        for r in rows],
            "figures": current["audit"] if current else {},
        }

    def _current(self, shortlist_id: int, rows: list[dict] | None = None) -> dict | None:
        """The latest audit decision (not a release row)."""
        rows = self.store.decisions(shortlist_id) if rows is None else rows
        audits = [r for r in rows if "override_of" not in r["audit"]]
        return audits[-1] if audits else None

    def _released_row(self, shortlist_id: int, rows: list[dict] | None = None) -> dict | None:
        rows = self.store.decisions(shortlist_id) if rows is None else rows
        released = [r for r in rows if r["released"]]
        return released[0] if released else None

    # ------------------------------------------------------------------ plugins
    def _notify(self, hook_name: str, warnings: list[str], shortlist_id: int, **kwargs: Any) -> None:
        """Call a hook with keyword arguments and ``store`` (this gate's store, where the decision
        is). The decision is already stored, so a failing plugin cannot undo it: the failure is
        logged and returned as a warning, never swallowed."""
        try:
            getattr(self.plugins.hook, hook_name)(store=self.store, **kwargs)
        except Exception as exc:  # noqa: BLE001 - isolate third-party code after the decision is stored
            msg = f"plugin hook {hook_name} failed: {type(exc).__name__}: {exc}"
            warnings.append(msg)
            self.store.log.append("vbr.gate", "gate.hook_failed", f"shortlist:{shortlist_id}",
                                  payload={"hook": hook_name, "error": msg})


def run_audit(stages: Mapping[str, Sequence[bool]], codes: Sequence[str | None], *, config: GateConfig,
              sex: Sequence[str | None] | None = None, regime: Any = None, grouping: Any = None,
              scores: Sequence[float] | None = None) -> Any:
    """Run :func:`vbr.fairness.selection_audit` on a funnel (stage name -> 0/1 per applicant).

    ``regime``/``grouping`` objects override the ids in ``config`` (already looked up)."""
    from vbr.fairness.audit import selection_audit

    return selection_audit(dict(stages), list(codes), regime=regime or config.regime, reference=config.reference,
                           grouping=grouping or config.grouping, config=config.audit, sex=sex, scores=scores)


__all__ = ["GateConfig", "GateResult", "ShortlistGate", "decide", "reconcile", "run_audit", "clean"]
