"""The shortlist gate: PASS / REVIEW / BLOCK, the override path, the log, and plugin events."""

from __future__ import annotations

import json

import pytest

from vbr.errors import GateHeld, NotFound, PermissionDenied, ValidationFailed
from vbr.fairness.equality import EqualityRecord, EqualityStore
from vbr.fairness.gate import GateConfig, ShortlistGate, decide, reconcile
from vbr.hookspecs import hookimpl
from vbr.models import Application, Campaign, Decision, Score
from vbr.plugins import build
from vbr.store import Store

JUSTIFICATION = "Reviewed the audit with the panel: the gap reflects two withdrawals, see minutes 12/3."


class Recorder:
    """A plugin that records the gate's events, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    @hookimpl
    def vbr_audit_complete(self, campaign_id, audit):
        self.events.append(("audit_complete", {"campaign_id": campaign_id, "audit": audit}))

    @hookimpl
    def vbr_shortlist_released(self, campaign_id, decision, application_ids):
        self.events.append(("released", {"campaign_id": campaign_id, "decision": decision,
                                         "application_ids": application_ids}))

    @hookimpl
    def vbr_shortlist_held(self, campaign_id, decision):
        self.events.append(("held", {"campaign_id": campaign_id, "decision": decision}))

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.events]


def make_campaign(store: Store, equality: EqualityStore, campaign_id: str,
                  groups: dict[str, tuple[int, int]]) -> list[str]:
    """Applicants per ethnic code ``{code: (applied, selected)}``; returns the selected ids,
    interleaved across groups so the order is not grouped by ethnicity."""
    store.add_campaign(Campaign(id=campaign_id, title="Staff nurse", rubric_id="nhs-constitution"),
                       "nhs-constitution@1.0", actor="recruiter")
    apps, records, chosen = [], [], {}
    for code, (n, k) in groups.items():
        ids = [f"{campaign_id}-{code or 'blank'}-{i:03d}" for i in range(n)]
        apps += [Application(id=i, campaign_id=campaign_id) for i in ids]
        records += [EqualityRecord(application_id=i, ethnic_code=code) for i in ids]
        chosen[code] = ids[:k]
    store.add_applications(apps)
    equality.import_records(records, actor="officer", source="test")
    out: list[str] = []
    for i in range(max(len(v) for v in chosen.values())):
        out += [v[i] for v in chosen.values() if i < len(v)]
    return out


@pytest.fixture()
def env(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'vbr.sqlite'}")
    equality = EqualityStore(f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}")
    rec = Recorder()
    gate = ShortlistGate(store, equality, plugins=build(load_entrypoints=False, extra_plugins=(rec,)))
    return store, equality, gate, rec


PASSING = {"A": (50, 20), "N": (50, 20), "H": (40, 16)}
REVIEWING = {"A": (389, 117), "N": (10, 2)}  # fairness.md "small shortlist": ratio 0.665, p 0.385
BLOCKING = {"A": (80, 48), "N": (40, 12)}  # fairness.md "UGESP textbook": ratio 0.5, p 0.0017


def test_pass_releases_at_once_and_logs_before_notifying(env):
    store, equality, gate, rec = env
    ids = make_campaign(store, equality, "c-pass", PASSING)
    result = gate.propose("c-pass", ids, actor="recruiter@trust")
    assert result.decision is Decision.PASS, result.reasons
    assert result.released and result.application_ids == ids
    assert rec.names == ["audit_complete", "released"]
    assert rec.events[1][1]["application_ids"] == ids
    assert rec.events[0][1]["audit"]["decision"] == "PASS"
    rows = store.decisions(result.shortlist_id)
    assert len(rows) == 1 and rows[0]["released"] and rows[0]["decision"] is Decision.PASS
    assert rows[0]["audit"]["audit"]  # the figures the decision rested on
    actions = [e.action for e in store.log.entries(subject=f"shortlist:{result.shortlist_id}")]
    assert actions == ["shortlist.proposed", "shortlist.released"]
    assert gate.release(result.shortlist_id, actor="recruiter@trust") == ids  # idempotent
    assert len(store.decisions(result.shortlist_id)) == 1
    assert store.log.verify().ok


def test_review_is_held_until_an_equality_officer_justifies(env):
    store, equality, gate, rec = env
    ids = make_campaign(store, equality, "c-review", REVIEWING)
    result = gate.propose("c-review", ids, actor="recruiter@trust")
    assert result.decision is Decision.REVIEW, result.reasons
    assert not result.released and result.reasons
    assert rec.names == ["audit_complete", "held"]
    sid = result.shortlist_id
    with pytest.raises(PermissionDenied) as denied:
        gate.release(sid, actor="recruiter@trust", role="recruiter", justification=JUSTIFICATION)
    assert denied.value.exit_code == 7
    with pytest.raises(GateHeld) as held:
        gate.release(sid, actor="officer@trust", role="equality_officer", justification="looks fine")
    assert held.value.exit_code == 6
    with pytest.raises(GateHeld):
        gate.release(sid, actor="officer@trust", role="equality_officer")
    with pytest.raises(GateHeld, match="only by the 'equality_officer' role"):
        gate.release(sid, actor="ats-user", role="ats")  # neither the role nor a justification
    assert not gate.status(sid)["released"] and len(store.decisions(sid)) == 1

    released = gate.release(sid, actor="officer@trust", role="equality_officer", justification=JUSTIFICATION)
    assert released == ids  # same ids, same order
    assert rec.names == ["audit_complete", "held", "released"]
    rows = store.decisions(sid)
    assert [r["released"] for r in rows] == [0, 1]  # the original decision is kept
    assert rows[1]["decision"] is Decision.REVIEW and rows[1]["released_by"] == "officer@trust"
    assert rows[1]["justification"] == JUSTIFICATION
    assert rows[1]["audit"]["override_of"] == rows[0]["id"] and rows[1]["audit"]["role"] == "equality_officer"
    entries = list(store.log.entries(subject=f"shortlist:{sid}"))
    assert [e.action for e in entries] == ["shortlist.proposed", "shortlist.review", "shortlist.released"]
    assert entries[-1].actor == "officer@trust" and entries[-1].reason == JUSTIFICATION
    assert entries[1].payload["figures"]["audit"]  # figures are in the log too
    assert store.log.verify().ok
    status = gate.status(sid)
    assert status["released"] and status["decision"] == "REVIEW" and status["justification"] == JUSTIFICATION


def test_block_on_significant_adverse_impact_and_override(env):
    store, equality, gate, rec = env
    ids = make_campaign(store, equality, "c-block", BLOCKING)
    result = gate.propose("c-block", ids, actor="recruiter@trust")
    assert result.decision is Decision.BLOCK, result.reasons
    assert rec.names == ["audit_complete", "held"]
    with pytest.raises(PermissionDenied):
        gate.release(result.shortlist_id, actor="manager", role="hiring_manager", justification=JUSTIFICATION)
    assert gate.release(result.shortlist_id, actor="officer", role="equality_officer",
                        justification=JUSTIFICATION) == ids
    assert store.log.verify().ok


def test_gate_never_reorders_or_changes_scores(env):
    store, equality, gate, _ = env
    ids = make_campaign(store, equality, "c-order", BLOCKING)
    proposed = list(reversed(ids))[::2] + list(reversed(ids))[1::2]  # an arbitrary, non-grouped order
    store.add_scores([Score(application_id=a, question_id="q1", value_id="compassion", level=i % 5,
                            confidence=0.9, scorer_id="test", scorer_version="1", rubric_ref="nhs-constitution@1.0")
                      for i, a in enumerate(store.application_ids("c-order"))], actor="scorer")
    before = store.current_scores("c-order")
    assert before
    result = gate.propose("c-order", proposed, actor="recruiter")
    assert result.application_ids == proposed
    released = gate.release(result.shortlist_id, actor="officer", role="equality_officer",
                            justification=JUSTIFICATION)
    assert released == proposed
    assert store.shortlist(result.shortlist_id)["application_ids"] == proposed
    assert store.current_scores("c-order") == before
    assert result.figures["audit"]["scores"]["groups"]  # score distributions were audited, not changed


@pytest.mark.parametrize("mutate, words", [
    (lambda ids: ids + ["not-an-applicant"], "not applications in this campaign"),
    (lambda ids: ids + ids[:2], "listed more than once"),
    (lambda ids: [], "empty"),
])
def test_reconciliation_failures_block_and_cannot_be_overridden(env, mutate, words):
    store, equality, gate, rec = env
    ids = make_campaign(store, equality, "c-bad", PASSING)
    result = gate.propose("c-bad", mutate(ids), actor="recruiter")
    assert result.decision is Decision.BLOCK
    assert any(words in r for r in result.reasons), result.reasons
    assert result.audit is None and rec.names == ["audit_complete", "held"]
    with pytest.raises(GateHeld, match="do not reconcile"):
        gate.release(result.shortlist_id, actor="officer", role="equality_officer", justification=JUSTIFICATION)
    assert store.log.verify().ok


def test_later_stage_not_drawn_from_the_shortlist_blocks(env):
    store, equality, gate, _ = env
    ids = make_campaign(store, equality, "c-funnel", PASSING)
    all_ids = store.application_ids("c-funnel")
    outsider = next(a for a in all_ids if a not in ids)
    result = gate.propose("c-funnel", ids, actor="r", later_stages={"appointed": ids[:3] + [outsider]})
    assert result.decision is Decision.BLOCK
    assert any("did not reach 'shortlisted'" in r for r in result.reasons)


def test_missing_equality_records_are_unknown_not_dropped(env):
    store, equality, gate, _ = env
    ids = make_campaign(store, equality, "c-unk", PASSING)
    store.add_applications([Application(id=f"c-unk-none-{i}", campaign_id="c-unk") for i in range(60)])
    result = gate.propose("c-unk", ids, actor="r")
    assert result.figures["equality_records"] == {"applicants": 200, "with_record": 140, "with_code": 140}
    # 70 % declared is below the default 80 % declaration rate: not a clean pass
    assert result.decision is not Decision.PASS


def test_unknown_campaign_and_regime(env, tmp_path):
    store, equality, gate, _ = env
    with pytest.raises(NotFound):
        gate.propose("nope", ["a"], actor="r")
    make_campaign(store, equality, "c-reg", PASSING)
    bad = ShortlistGate(store, equality, config=GateConfig(regime="astrology"), plugins=gate.plugins)
    with pytest.raises(ValidationFailed, match="no audit regime 'astrology'"):
        bad.propose("c-reg", ["x"], actor="r")


def test_config_from_yaml(tmp_path):
    p = tmp_path / "gate.yaml"
    p.write_text("gate:\n  regime: wres\n  grouping: wres\n  min_justification_chars: 40\n"
                 "  audit: {alpha: 0.01, min_group_size: 5}\n")
    cfg = GateConfig.from_yaml(p)
    assert cfg.regime == "wres" and cfg.audit.alpha == 0.01 and cfg.min_justification_chars == 40
    p.write_text("regime: ugesp\nthreshold: 0.9\n")
    with pytest.raises(ValidationFailed) as info:
        GateConfig.from_yaml(p)
    assert info.value.problems[0].field == "threshold"


def test_a_failing_plugin_cannot_undo_a_decision(tmp_path):
    class Broken:
        @hookimpl
        def vbr_shortlist_held(self, campaign_id, decision):
            raise RuntimeError("mail server down")

    store = Store(f"sqlite:///{tmp_path / 'vbr.sqlite'}")
    equality = EqualityStore(f"sqlite:///{tmp_path / 'eq.sqlite'}")
    gate = ShortlistGate(store, equality, plugins=build(load_entrypoints=False, extra_plugins=(Broken(),)))
    ids = make_campaign(store, equality, "c-broken", BLOCKING)
    result = gate.propose("c-broken", ids, actor="r")
    assert result.decision is Decision.BLOCK and "mail server down" in result.warnings[0]
    assert [e.action for e in store.log.entries()][-1] == "gate.hook_failed"
    assert store.log.verify().ok


def test_decide_is_never_softer_than_reconciliation():
    assert reconcile(["a", "b"], ["a", "b"]) == []
    assert decide(None, ["x"])[0] is Decision.BLOCK
    assert decide(None, [])[0] is Decision.BLOCK  # no audit, no pass


def test_figures_are_json_without_nan(env):
    store, equality, gate, _ = env
    ids = make_campaign(store, equality, "c-json", {"A": (30, 10), "N": (30, 0)})  # an all-zero group
    result = gate.propose("c-json", ids, actor="r")
    text = json.dumps(result.figures, allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


def test_pass_without_auto_release_needs_a_release(env):
    store, equality, gate, rec = env
    ids = make_campaign(store, equality, "c-manual", PASSING)
    manual = ShortlistGate(store, equality, config=GateConfig(auto_release_on_pass=False), plugins=gate.plugins)
    result = manual.propose("c-manual", ids, actor="recruiter")
    assert result.decision is Decision.PASS and not result.released
    assert rec.names == ["audit_complete"]
    assert manual.release(result.shortlist_id, actor="manager@trust", role="hiring_manager") == ids
    assert rec.names == ["audit_complete", "released"]
    rows = store.decisions(result.shortlist_id)
    assert [r["released"] for r in rows] == [0, 1] and rows[1]["released_by"] == "manager@trust"
    assert store.log.verify().ok


def test_audit_that_cannot_run_blocks_instead_of_crashing(env, monkeypatch):
    import vbr.fairness.gate as gate_module

    store, equality, gate, _ = env
    ids = make_campaign(store, equality, "c-err", PASSING)

    def boom(*a, **k):
        raise ValidationFailed("value 3.5 is not a category code", row=7, field="groups")

    monkeypatch.setattr(gate_module, "run_audit", boom)
    result = gate.propose("c-err", ids, actor="r")
    assert result.decision is Decision.BLOCK
    assert any("could not run" in r and "3.5" in r for r in result.reasons)
    with pytest.raises(GateHeld):
        gate.release(result.shortlist_id, actor="o", role="equality_officer", justification=JUSTIFICATION)


def test_unknown_grouping_is_a_configuration_error_before_anything_is_stored(env):
    store, equality, gate, _ = env
    make_campaign(store, equality, "c-grp", PASSING)
    bad = ShortlistGate(store, equality, config=GateConfig(grouping="no-such-grouping"), plugins=gate.plugins)
    with pytest.raises(NotFound):
        bad.propose("c-grp", ["x"], actor="r")
    assert [e.action for e in store.log.entries()][-1] != "shortlist.proposed"


def test_a_fault_inside_the_audit_holds_the_shortlist(env, monkeypatch):
    import vbr.fairness.gate as gate_module

    store, equality, gate, _ = env
    ids = make_campaign(store, equality, "c-bug", PASSING)
    monkeypatch.setattr(gate_module, "run_audit", lambda *a, **k: 1 / 0)
    result = gate.propose("c-bug", ids, actor="r")
    assert result.decision is Decision.BLOCK and any("ZeroDivisionError" in r for r in result.reasons)


def test_release_keeps_any_proposed_order(env):
    import random

    store, equality, gate, _ = env
    ids = make_campaign(store, equality, "c-perm", REVIEWING)
    rng = random.Random(6)
    for _ in range(5):
        proposed = ids[:]
        rng.shuffle(proposed)
        result = gate.propose("c-perm", proposed, actor="recruiter")
        assert result.decision is Decision.REVIEW
        assert gate.release(result.shortlist_id, actor="officer", role="equality_officer",
                            justification=JUSTIFICATION) == proposed


def test_a_plugin_regime_from_the_gates_own_plugin_system(tmp_path):
    """A regime registered by a plugin of the gate's plugin system is used (not only built-ins)."""
    from vbr.fairness.regimes.ugesp import UGESP

    class Strict(UGESP):
        id = "strict-trust"
        title = "Trust policy: four-fifths at 0.9"

        def audit(self, counts, config, *, grouping, reference=None):
            return super().audit(counts, config.model_copy(update={"ratio_threshold": 0.9}),
                                 grouping=grouping, reference=reference)

    class TrustPlugin:
        @hookimpl
        def vbr_register_regimes(self):
            return [Strict()]

    store = Store(f"sqlite:///{tmp_path / 'vbr.sqlite'}")
    equality = EqualityStore(f"sqlite:///{tmp_path / 'eq.sqlite'}")
    gate = ShortlistGate(store, equality, config=GateConfig(regime="strict-trust"),
                         plugins=build(load_entrypoints=False, extra_plugins=(TrustPlugin(),)))
    ids = make_campaign(store, equality, "c-plug", {"A": (100, 50), "N": (100, 42)})  # ratio 0.84
    result = gate.propose("c-plug", ids, actor="r")
    assert result.figures["regime"] == "strict-trust"
    assert result.figures["audit"]["regime"]["id"] == "strict-trust"
    assert result.decision is not Decision.PASS  # 0.84 is under the trust's 0.9 line
