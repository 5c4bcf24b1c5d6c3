"""Each hook spec, exercised through a plugin registered the way third parties register."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from vbr.hookspecs import hookimpl
from vbr.models import Decision, Score, ShortlistDecision
from vbr.plugins import build


class Thing:
    def __init__(self, id):
        self.id = id


class OldStyleEvents:
    """Event hooks written as before ``store`` was passed: they take only the arguments they use."""

    def __init__(self):
        self.events = []

    @hookimpl
    def vbr_scores_ready(self, campaign_id, scores):
        self.events.append(("scores_ready", campaign_id, len(scores)))

    @hookimpl
    def vbr_audit_complete(self, campaign_id, audit):
        self.events.append(("audit_complete", campaign_id, audit["decision"]))

    @hookimpl
    def vbr_shortlist_released(self, campaign_id, decision, application_ids):
        self.events.append(("released", campaign_id, tuple(application_ids)))

    @hookimpl
    def vbr_shortlist_held(self, campaign_id, decision):
        self.events.append(("held", campaign_id, decision.decision.value))


class Everything(OldStyleEvents):
    """A plugin implementing every hook: each registration hook with one object, and the events."""

    @hookimpl
    def vbr_register_rubrics(self):
        from vbr.rubrics import builtin_rubric_dir, load_rubric_file

        six = load_rubric_file(builtin_rubric_dir() / "6cs.yaml")
        return [six.model_copy(update={"id": "plugin-6cs"})]

    @hookimpl
    def vbr_register_scorers(self):
        return [Thing("plugin-scorer")]

    @hookimpl
    def vbr_register_redactors(self):
        return [Thing("plugin-redactor")]

    @hookimpl
    def vbr_register_regimes(self):
        return [Thing("plugin-regime")]

    @hookimpl
    def vbr_register_groupings(self):
        return [Thing("plugin-grouping")]

    @hookimpl
    def vbr_register_importers(self):
        return [Thing("plugin-importer")]

    @hookimpl
    def vbr_register_exporters(self):
        return [Thing("plugin-exporter")]

    @hookimpl
    def vbr_register_commands(self, cli):
        @cli.command("hello-plugin")
        def hello():
            typer.echo("hello from a plugin")

    @hookimpl
    def vbr_register_routes(self, app):
        app.routes_added = getattr(app, "routes_added", 0) + 1


KINDS = {"scorers": "plugin-scorer", "redactors": "plugin-redactor", "regimes": "plugin-regime",
         "groupings": "plugin-grouping", "importers": "plugin-importer", "exporters": "plugin-exporter"}


def test_registration_hooks_feed_the_registry():
    system = build(load_entrypoints=False, extra_plugins=(Everything(),))
    assert "plugin-6cs" in system.registry("rubrics") and "6cs" in system.registry("rubrics")
    for kind, item_id in KINDS.items():
        assert item_id in system.registry(kind), kind


def test_register_commands_adds_a_subcommand():
    system = build(load_entrypoints=False, extra_plugins=(Everything(),))
    cli = typer.Typer()

    @cli.command("noop")
    def noop():
        pass

    system.hook.vbr_register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["hello-plugin"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


def test_event_hooks_reach_plugins():
    plugin = Everything()
    system = build(load_entrypoints=False, extra_plugins=(plugin,))
    score = Score(application_id="a", question_id="q", value_id="care", level=3, confidence=0.8,
                  scorer_id="evidence", scorer_version="1", rubric_ref="6cs@1.0")
    # a caller passes every argument of the spec; store=None: these events come from no store
    system.hook.vbr_scores_ready(campaign_id="c", scores=[score], store=None)
    system.hook.vbr_audit_complete(campaign_id="c", audit={"decision": "REVIEW"}, store=None)
    held = ShortlistDecision(campaign_id="c", decision=Decision.REVIEW, regime="ugesp")
    system.hook.vbr_shortlist_held(campaign_id="c", decision=held, store=None)
    system.hook.vbr_shortlist_released(campaign_id="c", decision=held, application_ids=["a", "b"], store=None)
    assert plugin.events == [("scores_ready", "c", 1), ("audit_complete", "c", "REVIEW"),
                             ("held", "c", "REVIEW"), ("released", "c", ("a", "b"))]


class StoreAware:
    """A plugin whose event hooks take ``store`` (the store the event's data is in)."""

    def __init__(self):
        self.events = []

    @hookimpl
    def vbr_scores_ready(self, campaign_id, scores, store):
        self.events.append(("scores_ready", campaign_id, store))

    @hookimpl
    def vbr_audit_complete(self, campaign_id, audit, store):
        self.events.append(("audit_complete", campaign_id, store))

    @hookimpl
    def vbr_shortlist_released(self, campaign_id, decision, application_ids, store):
        self.events.append(("released", campaign_id, store))

    @hookimpl
    def vbr_shortlist_held(self, campaign_id, decision, store):
        self.events.append(("held", campaign_id, store))


def test_event_hooks_pass_the_store_and_old_style_implementations_still_work(tmp_path):
    """vbr's own calls (engine scoring, the gate's decision and an officer's release) pass the
    store the event came from; an implementation written before ``store`` existed (no ``store``
    parameter) is called as before, beside one that takes it."""
    from vbr.engine import Engine

    old_style, new_style = OldStyleEvents(), StoreAware()
    eng = Engine(tmp_path / "vbr.sqlite", plugins=build(load_entrypoints=False, extra_plugins=(old_style, new_style)))
    eng.create_campaign("c", "Nurse", "6cs", question_ids=["6cs-care-1"], actor="recruiter")
    eng.submit("c", [{"id": "a", "campaign_id": "c"}], [{"application_id": "a", "question_id": "6cs-care-1",
               "text": "I sat with the patient, listened to her worries and involved her family in the plan."}])
    eng.score("c")
    result = eng.propose_shortlist("c", application_ids=["a"], actor="recruiter")
    assert result.decision is not Decision.PASS and result.warnings == []  # held: too few to conclude
    eng.release(result.shortlist_id, actor="eo", role="equality_officer",
                justification="Reviewed the evidence with the panel: one applicant, nothing to compare.")
    assert [e[:2] for e in old_style.events] == [("scores_ready", "c"), ("audit_complete", "c"),
                                                 ("held", "c"), ("released", "c")]
    assert [e[:2] for e in new_style.events] == [e[:2] for e in old_style.events]
    assert all(store is eng.store for _, _, store in new_style.events)


def test_register_routes_receives_the_app():
    from fastapi import FastAPI

    app = FastAPI()
    build(load_entrypoints=False, extra_plugins=(Everything(),)).hook.vbr_register_routes(app=app)
    assert app.routes_added == 1
    assert app.state.pages_mounted  # the built-in pages are mounted through the same hook
