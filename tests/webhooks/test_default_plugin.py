"""The module ``vbr.webhooks.plugin`` as a default plugin: which database its events go to."""

from __future__ import annotations

import uuid

import vbr.webhooks.plugin as webhook_plugin
from vbr.plugins import build
from vbr.webhooks.outbox import Outbox

TEXT = "I sat with the patient, listened to her worries and involved her family in the plan."


def engine_with_campaign(tmp_path, name: str, cid: str):
    from vbr.engine import Engine

    eng = Engine(tmp_path / name, plugins=build(load_entrypoints=False))  # the webhook plugin is a default plugin
    eng.create_campaign(cid, "Nurse", "6cs", question_ids=["6cs-care-1"], actor="recruiter")
    eng.submit(cid, [{"id": f"{cid}-a1", "campaign_id": cid}],
               [{"application_id": f"{cid}-a1", "question_id": "6cs-care-1", "text": TEXT}])
    return eng


def test_events_go_to_the_store_the_hook_names(tmp_path):
    cid = "c-" + uuid.uuid4().hex[:8]
    eng = engine_with_campaign(tmp_path, "main.sqlite", cid)
    ob = Outbox(eng.store.engine)
    ob.add_endpoint("https://ats.example/h", actor="admin")
    eng.score(cid)
    [d] = ob.deliveries()
    assert d["event_type"] == "scores.ready" and ob.event(d["event_id"])["tenant"] == "default"


def test_same_campaign_in_two_open_stores_each_event_goes_to_its_own(tmp_path):
    """The hooks pass the store the event came from: with one campaign id in two open databases,
    each event is written to the database it came from (no guessing, so no event was written
    before the worker's relay ran, when the hooks had only the campaign id)."""
    cid = "c-" + uuid.uuid4().hex[:8]
    eng = engine_with_campaign(tmp_path, "a.sqlite", cid)
    other = engine_with_campaign(tmp_path, "b.sqlite", cid)  # same campaign id in two databases
    ob_a, ob_b = Outbox(eng.store.engine), Outbox(other.store.engine)
    ob_a.add_endpoint("https://a.example/h", actor="admin")
    ob_b.add_endpoint("https://b.example/h", actor="admin")
    eng.score(cid)
    assert [d["event_type"] for d in ob_a.deliveries()] == ["scores.ready"] and ob_b.deliveries() == []
    other.score(cid)
    assert len(ob_a.deliveries()) == 1 and [d["event_type"] for d in ob_b.deliveries()] == ["scores.ready"]
    result = other.propose_shortlist(cid, application_ids=[f"{cid}-a1"], actor="recruiter")
    assert result.warnings == []
    assert len(ob_a.deliveries()) == 1
    assert {d["event_type"] for d in ob_b.deliveries()} >= {"scores.ready", "audit.completed"}


def test_an_event_reads_no_other_open_database(tmp_path):
    """No per-event look-up in every engine of the process: while one store's events are recorded,
    the other open databases (a main store holding the same campaign, an equality database) see
    no SQL at all."""
    from sqlalchemy import event

    cid = "c-" + uuid.uuid4().hex[:8]
    eng = engine_with_campaign(tmp_path, "a.sqlite", cid)
    other = engine_with_campaign(tmp_path, "b.sqlite", cid)
    Outbox(eng.store.engine).add_endpoint("https://a.example/h", actor="admin")
    Outbox(other.store.engine).add_endpoint("https://b.example/h", actor="admin")
    assert not hasattr(webhook_plugin, "_open_store_holding")
    seen: dict[str, list[str]] = {"mine": [], "others": []}

    def watch(engine, key):
        def before(conn, cursor, statement, parameters, context, executemany):
            seen[key].append(statement)
        event.listen(engine, "before_cursor_execute", before)
        return lambda: event.remove(engine, "before_cursor_execute", before)

    watched = [watch(eng.store.engine, "mine"), watch(other.store.engine, "others"),
               watch(other.equality.engine, "others")]
    try:
        eng.score(cid)  # the engine's hook call, store=eng.store
        eng.plugins.hook.vbr_audit_complete(campaign_id=cid, audit={}, store=eng.store)  # a direct call
    finally:
        for unwatch in watched:
            unwatch()
    assert seen["others"] == []
    assert any("webhook_relay" in sql for sql in seen["mine"])  # the relay did run, on this store


def test_no_store_no_event_and_no_database_created(tmp_path, monkeypatch):
    monkeypatch.setenv("VBR_DB", str(tmp_path / "absent.sqlite"))
    plugins = build(load_entrypoints=False)  # the webhook plugin is a default plugin
    plugins.hook.vbr_scores_ready(campaign_id="c-nowhere-" + uuid.uuid4().hex, scores=[], store=None)
    assert not (tmp_path / "absent.sqlite").exists()
